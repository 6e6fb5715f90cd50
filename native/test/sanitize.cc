// Drives the pure C++ core (native/core) with random and hostile inputs, built with AddressSanitizer
// and UndefinedBehaviorSanitizer by scripts/sanitize.sh: any memory error or UB aborts with a
// report. Not part of the addon.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/blas_info.h"
#include "core/eig.h"
#include "core/gemm.h"
#include "core/lowrank.h"
#include "core/plfit.h"
#include "core/powerlaw.h"
#include "core/sigma_min.h"
#include "core/spectrum.h"
#include "core/svd.h"

int main() {
  std::mt19937 g(1);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (int t = 0; t < 40; t++) {
    const size_t r = 1 + g() % 48, c = 1 + g() % 48;
    std::vector<float> w(r * c);
    for (auto& x : w) x = static_cast<float>(normal(g));
    std::vector<double> sv;
    ww::Status st = ww::singularValues(w.data(), r, c, t % 2 ? ww::Precision::Float32 : ww::Precision::Float64, sv);
    if (!st.isOk()) return std::printf("unexpected svd failure: %s\n", st.message.c_str()), 1;
    std::vector<double> ev;
    for (double s : sv)
      if (s * s > 1e-5) ev.push_back(s * s);
    ww::PowerLawOptions o;
    o.keepArrays = t % 3 == 0;
    ww::PowerLawFit f;
    ww::fitPowerLaw(ev.data(), ev.size(), o, f);
    std::vector<double> prod;
    ww::matmul(w.data(), w.data(), r, c, c == r ? r : 1, prod);  // shape mismatch unless square: must be refused or valid
    ww::SymEigen e;
    ww::gramEigen(w.data(), r, c, e);
    // truncated reconstruction: every k from 0 past min(r, c), both modes; keep(k) + drop(k) = W
    const size_t mn = std::min(r, c);
    const size_t k = g() % (mn + 2);
    ww::LowRank keep, drop;
    if (!ww::lowRankApprox(w.data(), r, c, k, ww::LowRankMode::KeepTop, keep).isOk()) return std::puts("unexpected lowRank failure"), 1;
    if (!ww::lowRankApprox(w.data(), r, c, k, ww::LowRankMode::DropTop, drop).isOk()) return std::puts("unexpected lowRank failure"), 1;
    for (size_t i = 0; i < r * c; i++)
      if (std::abs(keep.matrix[i] + drop.matrix[i] - w[i]) > 1e-9 * (1 + std::abs(w[i]))) return std::printf("keep + drop != W at %zu\n", i), 1;

    // powerlaw-package port, incl. ties, xmax, ranges and the truncated power law
    const size_t n = 2 + g() % 60;
    std::vector<double> x(n);
    for (auto& v : x) v = std::pow(1 - uniform(g), -1.0 / (0.5 + 2 * uniform(g)));
    if (t % 4 == 0) std::fill(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n / 2), x[0]);
    ww::PlPackageOptions po;
    po.truncated = t % 2 == 1;
    po.keepArrays = t % 3 == 0;
    if (t % 5 == 1) po.hasXmax = true, po.xmax = *std::max_element(x.begin(), x.end());
    if (t % 6 == 2) po.hasXminRange = true, po.xminLo = -1, po.xminHi = 2;
    ww::PlPackageFit pf;
    ww::fitPowerLawPackage(x.data(), x.size(), po, pf);
  }
  // Hostile and degenerate inputs: each must return a Status, never crash.
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::vector<double>> fits = {{}, {1}, {2, 2, 2, 2}, {1, 2, inf, 3}, {1, nan, 3}, {1e-300, 1e300}};
  for (const auto& d : fits) {
    ww::PowerLawFit f;
    ww::fitPowerLaw(d.data(), d.size(), ww::PowerLawOptions{}, f);
    ww::PlPackageFit pf;
    ww::fitPowerLawPackage(d.data(), d.size(), ww::PlPackageOptions{}, pf);
  }
  std::vector<float> bad = {1, static_cast<float>(nan), 2, static_cast<float>(inf)};
  std::vector<double> sv;
  if (ww::singularValues(bad.data(), 2, 2, ww::Precision::Float64, sv).isOk()) return std::puts("NaN accepted"), 1;
  if (ww::singularValues(bad.data(), 0, 2, ww::Precision::Float64, sv).isOk()) return std::puts("empty accepted"), 1;
  ww::LowRank lr;
  if (ww::lowRankApprox(bad.data(), 2, 2, 1, ww::LowRankMode::KeepTop, lr).isOk()) return std::puts("lowRank: NaN accepted"), 1;
  if (ww::lowRankApprox(bad.data(), 2, 0, 1, ww::LowRankMode::DropTop, lr).isOk()) return std::puts("lowRank: empty accepted"), 1;
  for (double s : {-3.5, -1.0, 0.5, 2.0}) ww::upperIncompleteGamma(s, 0.7);

  // Spectrum routes: every method/precision/dtype on random, degenerate and hostile matrices.
  auto spectrumOf = [](const void* data, ww::DType dtype, size_t r, size_t c, ww::Method m, ww::Precision p, bool refine, double rankN) {
    ww::SpectrumOptions o;
    o.method = m;
    o.precision = p;
    o.refineMin = refine;
    o.rankN = rankN;
    ww::Spectrum out;
    return ww::computeSpectrum(ww::MatrixView{data, dtype, r, c}, o, out);
  };
  for (int t = 0; t < 24; t++) {
    const size_t r = 1 + g() % 150, c = 1 + g() % 150;
    std::vector<double> w(r * c);
    for (auto& x : w) x = normal(g);
    if (t % 6 == 1) std::fill(w.begin(), w.end(), 0.0);  // zero matrix
    if (t % 6 == 2)
      for (size_t k = 0; k < w.size(); k += 2) w[k] = 0;  // sparse
    if (t % 6 == 3)
      for (size_t j = 0; j < c; ++j) w[j] = w[c + j % (r > 1 ? c : 1)];  // repeated row: rank-deficient
    if (t % 6 == 4)
      for (auto& x : w) x *= 1e150;  // squares overflow the Gram route
    if (t % 6 == 5)
      for (auto& x : w) x *= 1e-160;  // squares underflow
    for (auto m : {ww::Method::Fast, ww::Method::Accurate})
      for (auto p : {ww::Precision::Float64, ww::Precision::Float32}) {
        const ww::Status st = spectrumOf(w.data(), ww::DType::F64, r, c, m, p, t % 2 == 0, t % 3 ? static_cast<double>(std::max(r, c)) : 0);
        if (!st.isOk() && st.code != ww::Code::NonFinite && st.code != ww::Code::Lapack)
          return std::printf("unexpected spectrum failure: %s\n", st.message.c_str()), 1;
      }
    // raw half-float bytes (every bit pattern: NaN, Inf, subnormals) and unaligned F32 bytes
    std::vector<unsigned char> raw(2 * r * c + 1);
    for (auto& b : raw) b = static_cast<unsigned char>(g());
    for (auto d : {ww::DType::F16, ww::DType::BF16})
      spectrumOf(raw.data() + 1, d, r, c / 2 + 1 > c ? c : (c + 1) / 2, ww::Method::Fast, ww::Precision::Float64, true, 10);
    std::vector<unsigned char> f32(4 * r * c + 3);
    for (size_t k = 0; k < r * c; ++k) {
      const float v = static_cast<float>(normal(g));
      std::memcpy(f32.data() + 3 + 4 * k, &v, 4);
    }
    if (!spectrumOf(f32.data() + 3, ww::DType::F32, r, c, ww::Method::Fast, ww::Precision::Float64, true, 0).isOk())
      return std::puts("unaligned F32 bytes refused"), 1;
  }
  // Ill-conditioned square and tall matrices take the LU and QR refinements.
  for (size_t n : {64, 96}) {
    for (size_t m : {n, 2 * n}) {
      std::vector<double> w(m * n);
      for (auto& x : w) x = normal(g);
      for (size_t i = 0; i < m; ++i) w[i * n] *= 1e-5;  // one tiny column: σmin ≈ 1e-5·σ
      ww::Spectrum out;
      ww::SpectrumOptions o;
      o.method = ww::Method::Fast;
      o.rankN = static_cast<double>(m);
      if (!ww::computeSpectrum(ww::MatrixView{w.data(), ww::DType::F64, m, n}, o, out).isOk()) return std::puts("refinement failed"), 1;
    }
  }
  // A layer in one call: a well-conditioned slice and a near-singular one (the layer goes to ?gesdd
  // whole), a truncated layer under the layer guard with thresholds, and the ?gesdd-only options.
  {
    const size_t m = 160, n = 80;
    std::vector<double> a(m * n), b(m * n);
    for (auto& x : a) x = normal(g);
    for (auto& x : b) x = normal(g);
    for (size_t i = 0; i < m; ++i) b[i * n] *= 1e-9;
    const std::vector<ww::MatrixView> both{{a.data(), ww::DType::F64, m, n}, {b.data(), ww::DType::F64, m, n}};
    ww::LayerOptions lo;
    lo.matrix.method = ww::Method::Fast;
    lo.N = static_cast<double>(m);
    lo.layerGuard = true;
    lo.thresholds = {{1e-5, "the fit threshold 1e-5"}, {nan, "nan"}, {-1.0, "negative"}};
    ww::LayerSpectrum out;
    if (!ww::computeLayerSpectrum(both, lo, out).isOk() || out.route != ww::Route::Gesdd || out.matrices.size() != 2 || out.fallback.empty())
      return std::puts("mixed layer not sent to gesdd whole"), 1;
    lo.keep = 3;
    if (!ww::computeLayerSpectrum({both[0]}, lo, out).isOk()) return std::puts("truncated layer failed"), 1;
    lo.keep = 0;
    if (!ww::computeLayerSpectrum({both[0]}, lo, out).isOk()) return std::puts("empty kept layer failed"), 1;
    lo.keep = SIZE_MAX;
    lo.unsquared = true;
    if (!ww::computeLayerSpectrum(both, lo, out).isOk() || out.route != ww::Route::Gesdd) return std::puts("unsquared layer not on gesdd"), 1;
    if (ww::computeLayerSpectrum({ww::MatrixView{nullptr, ww::DType::F32, 3, 3}}, lo, out).isOk()) return std::puts("null layer data accepted"), 1;
    // the last rung after a rejected fit: ?gesdd on every matrix, the values of method Accurate
    lo.unsquared = false;
    ww::LayerSpectrum fin, acc;
    if (!ww::finishLayerWithGesdd(both, lo, "rejected", fin).isOk() || fin.route != ww::Route::Gesdd || fin.fallback != "rejected")
      return std::puts("finished layer not on gesdd"), 1;
    lo.matrix.method = ww::Method::Accurate;
    if (!ww::computeLayerSpectrum(both, lo, acc).isOk() || acc.matrices[1].sv != fin.matrices[1].sv)
      return std::puts("finished layer differs from accurate"), 1;
    if (ww::finishLayerWithGesdd({ww::MatrixView{nullptr, ww::DType::F32, 3, 3}}, lo, "x", fin).isOk())
      return std::puts("null finished layer accepted"), 1;
  }
  // The two-stage eigensolver path (Gram order ≥ 3072), once, values only.
  {
    const size_t m = 3100, n = 3072;
    std::vector<float> w(m * n);
    for (auto& x : w) x = static_cast<float>(normal(g));
    ww::SpectrumOptions o;
    o.method = ww::Method::Fast;
    o.refineMin = false;
    o.threads = 1;  // one thread: the rule picks ?syevd_2stage at this order
    ww::Spectrum out;
    if (!ww::computeSpectrum(ww::MatrixView{w.data(), ww::DType::F32, m, n}, o, out).isOk() || out.evals.size() != n)
      return std::puts("two-stage Gram failed"), 1;
  }
  // The split two-stage eigensolver (band stage on one thread): on one thread, ?syevd_2stage bit for bit.
  {
    const size_t m = 300, n = 256;
    std::vector<float> w(m * n);
    for (auto& x : w) x = static_cast<float>(normal(g));
    ww::SpectrumOptions o;
    o.method = ww::Method::Fast;
    o.refineMin = false;
    o.threads = 1;
    ww::setBlasThreads(1);  // the count the call says it runs with (callers set it; OpenBLAS's is process-wide)
    ww::Spectrum two, split;
    o.eigensolver = ww::SpectrumOptions::Eigensolver::TwoStage;
    if (!ww::computeSpectrum(ww::MatrixView{w.data(), ww::DType::F32, m, n}, o, two).isOk()) return std::puts("two-stage Gram failed"), 1;
    o.eigensolver = ww::SpectrumOptions::Eigensolver::TwoStageSplit;
    if (!ww::computeSpectrum(ww::MatrixView{w.data(), ww::DType::F32, m, n}, o, split).isOk() || split.evals != two.evals)
      return std::puts("split two-stage differs from ?syevd_2stage on one thread"), 1;
  }
  // σmin with hostile eigenvalue estimates: wrong length, zeros, NaN, no gap.
  {
    std::vector<double> a(16 * 16);
    for (auto& x : a) x = normal(g);
    for (const std::vector<double>& ev :
         std::vector<std::vector<double>>{{}, std::vector<double>(16, 0.0), std::vector<double>(16, nan), std::vector<double>(16, 1.0)}) {
      std::vector<double> copy = a;
      ww::SigmaMinResult res;
      ww::smallestSingularValue(copy.data(), 16, 16, ev, 0.0, res);
    }
  }
  ww::Spectrum none;
  if (ww::computeSpectrum(ww::MatrixView{nullptr, ww::DType::F32, 3, 3}, ww::SpectrumOptions{}, none).isOk())
    return std::puts("null data accepted"), 1;
  if (ww::computeSpectrum(ww::MatrixView{bad.data(), ww::DType::F32, 0, 3}, ww::SpectrumOptions{}, none).isOk())
    return std::puts("empty accepted"), 1;
  std::puts("sanitize: ok");
  return 0;
}
