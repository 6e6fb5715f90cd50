#include "core/gram.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "core/matrix.h"

namespace ww {
namespace {

constexpr size_t kChunkBytes = size_t{32} << 20;
// On one thread, from this order on ?syevd_2stage beats ?syevd (twoStageEigensolver).
constexpr size_t kTwoStageOrder = 3072;

// G (+)= XXᵀ (trans = false, X n×k, ld n) or XᵀX (trans = true, X k×n, ld k); upper triangle.
void syrk(bool trans, size_t n, size_t k, const double* x, size_t ld, bool accumulate, double* g) {
  cblas_dsyrk(CblasColMajor, CblasUpper, trans ? CblasTrans : CblasNoTrans, static_cast<blasint>(n), static_cast<blasint>(k), 1.0, x,
              static_cast<blasint>(ld), accumulate ? 1.0 : 0.0, g, static_cast<blasint>(n));
}
void syrk(bool trans, size_t n, size_t k, const float* x, size_t ld, bool accumulate, float* g) {
  cblas_ssyrk(CblasColMajor, CblasUpper, trans ? CblasTrans : CblasNoTrans, static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, x,
              static_cast<blasint>(ld), accumulate ? 1.0f : 0.0f, g, static_cast<blasint>(n));
}
lapack_int syevd(size_t n, bool twoStage, double* g, double* w) {
  const auto ni = static_cast<lapack_int>(n);
  return twoStage ? LAPACKE_dsyevd_2stage(LAPACK_COL_MAJOR, 'N', 'U', ni, g, ni, w) : LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', ni, g, ni, w);
}
lapack_int syevd(size_t n, bool twoStage, float* g, float* w) {
  const auto ni = static_cast<lapack_int>(n);
  return twoStage ? LAPACKE_ssyevd_2stage(LAPACK_COL_MAJOR, 'N', 'U', ni, g, ni, w) : LAPACKE_ssyevd(LAPACK_COL_MAJOR, 'N', 'U', ni, g, ni, w);
}

}  // namespace

template <typename Work>
Status gramEigenvalues(const MatrixView& w, bool twoStage, std::vector<double>& out, double& sumOfSquares) {
  Status st = checkDims(w.rows, w.cols);
  if (!st.isOk()) return st;
  if (w.data == nullptr) return Status::error(Code::Empty, "no matrix data");
  const bool tall = w.rows >= w.cols;
  const size_t n = tall ? w.cols : w.rows;  // Gram order
  const size_t m = tall ? w.rows : w.cols;  // summed dimension
  const size_t chunk = std::min(m, std::max<size_t>(256, kChunkBytes / (sizeof(Work) * n)));
  std::unique_ptr<Work[]> g, x, ev;
  try {
    g.reset(new Work[n * n]);
    x.reset(new Work[chunk * n]);
    ev.reset(new Work[n]);
  } catch (const std::bad_alloc&) {
    return Status::error(Code::Alloc, "out of memory allocating the " + std::to_string(n) + "x" + std::to_string(n) + " Gram matrix");
  }
  SumOfSquares squares;
  for (size_t k0 = 0; k0 < m; k0 += chunk) {
    const size_t k1 = std::min(m, k0 + chunk);
    if (tall) {
      // rows k0..k1 of W, row-major (k×n) = column-major n×k: G += X·Xᵀ = Σ rowsᵀ·rows
      if (!convertBlock(w, k0, k1, 0, n, x.get(), squares)) return nonFiniteError<Work>(w);
      syrk(false, n, k1 - k0, x.get(), n, k0 > 0, g.get());
    } else {
      // columns k0..k1 of W, gathered row-major (n×k) = column-major k×n: G += Xᵀ·X = Σ cols·colsᵀ
      if (!convertBlock(w, 0, n, k0, k1, x.get(), squares)) return nonFiniteError<Work>(w);
      syrk(true, n, k1 - k0, x.get(), k1 - k0, k0 > 0, g.get());
    }
  }
  x.reset();
  sumOfSquares = squares.value();
  const lapack_int info = syevd(n, twoStage, g.get(), ev.get());
  if (info != 0) {
    return Status::error(Code::Lapack, std::string(sizeof(Work) == 8 ? "dsyevd" : "ssyevd") + " failed with info=" + std::to_string(info) +
                                           (info > 0 ? " (the algorithm did not converge)" : " (illegal argument)"));
  }
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(ev[i]);  // ascending from LAPACK
    if (!std::isfinite(v)) return Status::error(Code::Lapack, "the Gram matrix overflowed (entries too large for squaring)");
    out[i] = std::max(0.0, v);
  }
  return Status::ok();
}

template Status gramEigenvalues<double>(const MatrixView&, bool, std::vector<double>&, double&);
template Status gramEigenvalues<float>(const MatrixView&, bool, std::vector<double>&, double&);

// The rule (docs/performance.md, "The eigensolver by threads"; bench/svdvals-numpy.bench.ts
// --solvers, 2-core AVX-512 EPYC, OpenBLAS 0.3.21 / LAPACK 3.11): the two-stage reduction streams
// the Gram matrix far fewer times, but its band → tridiagonal stage runs on one thread, while the
// one-stage ?sytrd's BLAS-2 half scales with the threads until memory bandwidth binds. Measured
// 2-stage / 1-stage, quiet machine: one thread 1.14 (2048), 0.84 (3072), 0.79 (4096), 0.54 (6144);
// two threads 1.60 (2048), 1.18 (3072), 0.90–0.97 (4096: a tie; issue 23 measured 1.15 there on a
// Zen 3), 0.57 (6144). So two or more threads take the two-stage solver from the first order where
// it clearly wins. More than two threads were not measured and use the two-thread threshold.
constexpr size_t kTwoStageOrderMultiThread = 6144;
bool twoStageEigensolver(size_t n, int threads) { return n >= (threads <= 1 ? kTwoStageOrder : kTwoStageOrderMultiThread); }

double gramErrorBound(size_t /*m*/, size_t n, double lambdaMax, double eps) {
  return kGramErrorC * std::sqrt(static_cast<double>(n)) * eps * lambdaMax;
}

}  // namespace ww
