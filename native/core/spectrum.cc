#include "core/spectrum.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include "core/gram.h"
#include "core/matrix.h"
#include "core/sigma_min.h"

namespace ww {
namespace {

constexpr double kEps64 = std::numeric_limits<double>::epsilon() / 2;  // unit roundoff 2⁻⁵³
constexpr double kEps32 = std::numeric_limits<float>::epsilon() / 2;   // 2⁻²⁴
constexpr double kNumpyEps = std::numeric_limits<double>::epsilon();   // numpy's finfo.eps in rank tolerances

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

void squaresOf(Spectrum& out) {
  out.evals.resize(out.sv.size());
  for (size_t i = 0; i < out.sv.size(); ++i) out.evals[i] = out.sv[i] * out.sv[i];
}

void rootsOf(Spectrum& out) {
  out.sv.resize(out.evals.size());
  for (size_t i = 0; i < out.evals.size(); ++i) out.sv[i] = std::sqrt(out.evals[i]);
}

Status gesdd(const MatrixView& w, Precision p, Spectrum& out) {
  const auto t0 = std::chrono::steady_clock::now();
  Status st = singularValues(w, p, out.sv);
  out.gesddSeconds = seconds(t0);
  if (!st.isOk()) return st;
  squaresOf(out);
  out.route = p == Precision::Float64 ? Route::Gesdd : Route::SGesdd;
  out.errorBound = 0;
  out.sumOfSquares = 0;
  return Status::ok();
}

Status fallBack(const MatrixView& w, Precision p, Spectrum& out, std::string why) {
  out.fallback = std::move(why);
  return gesdd(w, p, out);
}

// σmin by factorization + inverse iteration; false (with the reason) when it cannot be had.
bool refineMin(const MatrixView& w, double delta, Spectrum& out, std::string& why) {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<double[]> a;
  try {
    a.reset(new double[w.rows * w.cols]);
  } catch (const std::bad_alloc&) {
    why = "out of memory for the σmin refinement";
    return false;
  }
  TallShape t;
  if (!tallCopy(w, a.get(), t).isOk()) {
    why = "the working copy could not be made";
    return false;
  }
  SigmaMinResult r;
  const Status st = smallestSingularValue(a.get(), t.m, t.n, out.evals, delta, r);
  out.refineSeconds = seconds(t0);
  out.refineIterations = r.iterations;
  out.refineBlock = r.blockSize;
  if (!st.isOk() || !r.converged) {
    why = r.blockSize == 0 ? "no gap above σmin for the inverse iteration" : "the inverse iteration for σmin did not converge";
    return false;
  }
  out.sv[0] = r.sigma;
  out.evals[0] = r.sigma * r.sigma;
  std::sort(out.sv.begin(), out.sv.end());
  std::sort(out.evals.begin(), out.evals.end());
  const bool single = out.route == Route::SGram;
  out.route = t.m == t.n ? (single ? Route::SGramLu : Route::GramLu) : (single ? Route::SGramQr : Route::GramQr);
  return true;
}

}  // namespace

const char* routeName(Route r) {
  switch (r) {
    case Route::Gram: return "gram";
    case Route::GramLu: return "gram+lu";
    case Route::GramQr: return "gram+qr";
    case Route::Gesdd: return "gesdd";
    case Route::SGram: return "sgram";
    case Route::SGramLu: return "sgram+lu";
    case Route::SGramQr: return "sgram+qr";
    case Route::SGesdd: return "sgesdd";
  }
  return "unknown";
}

Status computeSpectrum(const MatrixView& w, const SpectrumOptions& o, Spectrum& out) {
  out = Spectrum{};
  Status st = checkDims(w.rows, w.cols);
  if (!st.isOk()) return st;
  if (o.method == Method::Accurate) return gesdd(w, o.precision, out);

  const bool single = o.precision == Precision::Float32;
  const auto t0 = std::chrono::steady_clock::now();
  st = single ? gramEigenvalues<float>(w, out.evals, out.sumOfSquares) : gramEigenvalues<double>(w, out.evals, out.sumOfSquares);
  out.gramSeconds = seconds(t0);
  if (st.code == Code::NonFinite || st.code == Code::Alloc) return st;
  if (!st.isOk()) return fallBack(w, o.precision, out, "the Gram route failed: " + st.message);
  const size_t n = out.evals.size();
  const double lmax = out.evals[n - 1];
  out.errorBound = gramErrorBound(std::max(w.rows, w.cols), n, lmax, single ? kEps32 : kEps64);
  rootsOf(out);
  out.route = single ? Route::SGram : Route::Gram;
  if (o.forceGram || !o.refineMin) return Status::ok();
  const auto fail = [&](std::string why) { return fallBack(w, o.precision, out, std::move(why)); };

  // sv_min: from the Gram eigenvalue when its relative error is small enough, else refined in float64
  // (float32 Gram values are coarse at the bottom but still bound the gap that sets the block size).
  const double delta = out.errorBound;
  const double low1 = out.evals[0] - delta;  // certified lower bound on λ₁
  if (!(low1 > 0 && delta / (2 * low1) <= (single ? kSvMinRelTolF32 : kSvMinRelTol))) {
    if (lmax == 0) return fail("zero matrix");
    if (n < kMinRefineOrder) return fail("σmin is below the Gram route's accuracy and the matrix is small");
    if (!single && !(low1 >= kRefineFloor * lmax)) return fail("σmin/σmax < 1e-6: too close to singular for the Gram route");
    std::string why;
    if (!refineMin(w, delta, out, why)) return fail(why);
  }
  // Rank columns: every σ must be certainly above numpy's tolerance σmax·N·ε.
  if (o.rankN > 0) {
    const bool plain = out.route == Route::Gram || out.route == Route::SGram;
    const double sigmaLow = plain ? std::sqrt(low1) : out.sv[0] * (1 - 1e-8);
    const double tol = std::sqrt(lmax + delta) * o.rankN * kNumpyEps;
    if (!(sigmaLow > 2 * tol)) return fail("rank deficiency cannot be decided from the Gram eigenvalues");
  }
  return Status::ok();
}

}  // namespace ww
