#include "core/spectrum.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/gram.h"
#include "core/matrix.h"
#include "core/sigma_min.h"

namespace ww {
namespace {

constexpr double kEps64 = std::numeric_limits<double>::epsilon() / 2;  // unit roundoff 2⁻⁵³
constexpr double kEps32 = std::numeric_limits<float>::epsilon() / 2;   // 2⁻²⁴
constexpr double kNumpyEps = std::numeric_limits<double>::epsilon();   // numpy's finfo.eps in rank tolerances

std::atomic<uint64_t> gramPasses{0}, refineCopies{0}, gesddCopies{0};

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
  gesddCopies.fetch_add(1, std::memory_order_relaxed);
  Status st = singularValues(w, p, out.sv);
  out.gesddSeconds = seconds(t0);
  if (!st.isOk()) return st;
  squaresOf(out);
  out.route = p == Precision::Float64 ? Route::Gesdd : Route::SGesdd;
  out.solver = GramSolver::OneStage;
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
  refineCopies.fetch_add(1, std::memory_order_relaxed);
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

bool isGesdd(Route r) { return r == Route::Gesdd || r == Route::SGesdd; }

// Index of the first kept value (the largest `keep` of an ascending spectrum).
size_t keptFrom(const Spectrum& s, size_t keep) { return s.sv.size() > keep ? s.sv.size() - keep : 0; }

// Every matrix of the layer by ?gesdd; a matrix that already fell back keeps its values (and the
// seconds of both attempts), the others are recomputed from scratch.
Status allGesdd(const std::vector<MatrixView>& mats, Precision p, LayerSpectrum& out) {
  out.matrices.resize(mats.size());
  for (size_t i = 0; i < mats.size(); ++i) {
    if (!isGesdd(out.matrices[i].route) || out.matrices[i].sv.empty()) {
      out.matrices[i] = Spectrum{};
      const Status st = gesdd(mats[i], p, out.matrices[i]);
      if (!st.isOk()) return st;
    }
  }
  out.route = p == Precision::Float64 ? Route::Gesdd : Route::SGesdd;
  return Status::ok();
}

// The layer's route (the strongest of its matrices') and the certified lower bound on its kept σmin.
void summarise(const LayerOptions& o, LayerSpectrum& out) {
  int best = -1;
  out.svMinLow = std::numeric_limits<double>::infinity();
  for (const Spectrum& s : out.matrices) {
    const size_t from = keptFrom(s, o.keep);
    if (from >= s.sv.size()) continue;
    if (routeStrength(s.route) > best) best = routeStrength(s.route), out.route = s.route;
    const bool plain = s.route == Route::Gram || s.route == Route::SGram;
    const bool refined = !plain && !isGesdd(s.route);
    const double sv0 = o.unsquared ? std::sqrt(s.sv[from]) : s.sv[from];
    const double low = plain ? std::sqrt(std::max(0.0, s.evals[from] - s.errorBound)) : refined ? sv0 * (1 - 1e-8) : sv0;
    out.svMinLow = std::min(out.svMinLow, low);
  }
  if (best < 0) out.route = o.matrix.precision == Precision::Float64 ? Route::Gesdd : Route::SGesdd;
}

// The layer-level guard on the pooled float64 Gram ESD (docs/numerics.md): why the layer needs ?gesdd,
// or empty. Each rule names the columns it protects in engine/route-guard.ts's header.
std::string layerGuardFailure(const LayerOptions& o, const LayerSpectrum& out) {
  constexpr double kRel = 1e-10;
  std::vector<double> ev;
  double delta = 0, squares = 0;
  for (const Spectrum& s : out.matrices) {
    const size_t from = keptFrom(s, o.keep);
    if (from >= s.sv.size()) continue;
    ev.insert(ev.end(), s.evals.begin() + static_cast<std::ptrdiff_t>(from), s.evals.end());
    delta = std::max(delta, s.errorBound);
    squares += s.sumOfSquares;
  }
  if (ev.empty()) return "";
  std::sort(ev.begin(), ev.end());
  const double lmax = ev.back();
  const double rankTol = std::sqrt(lmax + delta) * o.N * kNumpyEps;
  // matrix_rank, rank_loss: every kept σmin certainly above the pooled tolerance σmax·N·ε
  if (!(out.svMinLow > 2 * rankTol)) return "rank deficiency cannot be decided from the Gram eigenvalues";
  // sv_min from plain Gram values (also covers ESDs truncated to their top values, whose smallest
  // kept value computeSpectrum did not see)
  if (out.route == Route::Gram && !(delta <= 2e-10 * out.svMinLow * out.svMinLow)) return "sv_min is below the Gram route's accuracy";
  if (!(delta <= kRel * lmax)) return "the largest eigenvalue is not accurate enough";
  for (const auto& [threshold, what] : o.thresholds) {
    if (!(threshold > 0)) continue;  // no eigenvalue is below 0 on either route
    for (const double v : ev)
      if (std::abs(v - threshold) <= delta) return "an eigenvalue lies within the error bound of " + what;
  }
  // norm, log_norm, stable_rank: Σλ against the matrix's compensated Σw², plus the latter's rounding
  double total = 0;
  for (const double v : ev) total += v;
  if (!(std::abs(total - squares) / squares + 4 * kNumpyEps <= kRel)) return "the eigenvalue sum (norm) is not accurate enough";
  return "";
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
  const size_t order = std::min(w.rows, w.cols);
  using Solver = SpectrumOptions::Eigensolver;
  switch (o.eigensolver) {
    case Solver::Auto: out.solver = gramSolverFor(order, o.threads, o.exclusive); break;
    case Solver::OneStage: out.solver = GramSolver::OneStage; break;
    case Solver::TwoStage: out.solver = GramSolver::TwoStage; break;
    case Solver::TwoStageSplit: out.solver = GramSolver::TwoStageSplit; break;
  }
  gramPasses.fetch_add(1, std::memory_order_relaxed);
  st = single ? gramEigenvalues<float>(w, out.solver, o.threads, out.evals, out.sumOfSquares)
              : gramEigenvalues<double>(w, out.solver, o.threads, out.evals, out.sumOfSquares);
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

Status computeLayerSpectrum(const std::vector<MatrixView>& mats, const LayerOptions& o, LayerSpectrum& out) {
  out = LayerSpectrum{};
  out.matrices.resize(mats.size());
  // 1. ESDs whose smallest values matter as much as the largest: ?gesdd
  const bool fast = o.matrix.method == Method::Fast && !o.unsquared && !o.inverse;
  if (!fast) {
    Status st = allGesdd(mats, o.matrix.precision, out);
    if (st.isOk()) summarise(o, out);
    return st;
  }
  // 2. each matrix by its own ladder; 3. the first that needs ?gesdd sends the whole layer there
  for (size_t i = 0; i < mats.size(); ++i) {
    SpectrumOptions mo = o.matrix;
    // truncated to its top `keep` values, a matrix's own σmin and rank do not matter: the layer
    // guard checks the smallest kept value instead
    const bool truncated = o.keep < std::min(mats[i].rows, mats[i].cols);
    mo.rankN = truncated ? 0 : o.N;
    mo.refineMin = !truncated && o.matrix.refineMin;
    Status st = computeSpectrum(mats[i], mo, out.matrices[i]);
    if (!st.isOk()) return st;
    if (isGesdd(out.matrices[i].route)) {
      out.fallback = out.matrices[i].fallback;
      st = allGesdd(mats, o.matrix.precision, out);
      if (st.isOk()) summarise(o, out);
      return st;
    }
  }
  summarise(o, out);
  // 4. the layer's own guard (float64 Gram routes only: float32 is never used for parity)
  const bool guarded = out.route == Route::Gram || out.route == Route::GramLu || out.route == Route::GramQr;
  if (o.layerGuard && guarded) {
    std::string why = layerGuardFailure(o, out);
    if (!why.empty()) {
      out.fallback = std::move(why);
      for (Spectrum& s : out.matrices) s = Spectrum{};
      Status st = allGesdd(mats, o.matrix.precision, out);
      if (st.isOk()) summarise(o, out);
      return st;
    }
  }
  return Status::ok();
}

Status finishLayerWithGesdd(const std::vector<MatrixView>& mats, const LayerOptions& o, std::string why, LayerSpectrum& out) {
  // the same computation as method Accurate in computeLayerSpectrum (rung 1), from fresh spectra
  out = LayerSpectrum{};
  out.matrices.resize(mats.size());
  const Status st = allGesdd(mats, o.matrix.precision, out);
  if (!st.isOk()) return st;
  summarise(o, out);
  out.fallback = std::move(why);
  return Status::ok();
}

SpectrumPasses spectrumPasses() {
  SpectrumPasses p;
  p.gram = gramPasses.load(std::memory_order_relaxed);
  p.refine = refineCopies.load(std::memory_order_relaxed);
  p.gesdd = gesddCopies.load(std::memory_order_relaxed);
  return p;
}

int routeStrength(Route r) {
  switch (r) {
    case Route::SGram: return 0;
    case Route::SGramQr: return 1;
    case Route::SGramLu: return 2;
    case Route::Gram: return 3;
    case Route::GramQr: return 4;
    case Route::GramLu: return 5;
    case Route::SGesdd: return 6;
    case Route::Gesdd: return 7;
  }
  return 7;
}

}  // namespace ww
