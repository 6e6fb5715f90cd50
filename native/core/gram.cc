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

// G (+)= XXᵀ (trans = false, X n×k, ld n) or XᵀX (trans = true, X k×n, ld k); upper triangle.
void syrk(bool trans, size_t n, size_t k, const double* x, size_t ld, bool accumulate, double* g) {
  cblas_dsyrk(CblasColMajor, CblasUpper, trans ? CblasTrans : CblasNoTrans, static_cast<blasint>(n), static_cast<blasint>(k), 1.0, x,
              static_cast<blasint>(ld), accumulate ? 1.0 : 0.0, g, static_cast<blasint>(n));
}
void syrk(bool trans, size_t n, size_t k, const float* x, size_t ld, bool accumulate, float* g) {
  cblas_ssyrk(CblasColMajor, CblasUpper, trans ? CblasTrans : CblasNoTrans, static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, x,
              static_cast<blasint>(ld), accumulate ? 1.0f : 0.0f, g, static_cast<blasint>(n));
}
// From this order on, the two-stage tridiagonalisation (full → band with BLAS-3, then band →
// tridiagonal) beats ?sytrd's half-BLAS-2 reduction, most when several layers share the memory
// bus (measured at 3072 and 4096, alone and two at once; docs/performance.md). Values only, as
// LAPACK 3.11's ?syevd_2stage supports.
constexpr size_t kTwoStageOrder = 3072;

lapack_int syevd(size_t n, double* g, double* w) {
  const auto ni = static_cast<lapack_int>(n);
  return n >= kTwoStageOrder ? LAPACKE_dsyevd_2stage(LAPACK_COL_MAJOR, 'N', 'U', ni, g, ni, w)
                             : LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', ni, g, ni, w);
}
lapack_int syevd(size_t n, float* g, float* w) {
  const auto ni = static_cast<lapack_int>(n);
  return n >= kTwoStageOrder ? LAPACKE_ssyevd_2stage(LAPACK_COL_MAJOR, 'N', 'U', ni, g, ni, w)
                             : LAPACKE_ssyevd(LAPACK_COL_MAJOR, 'N', 'U', ni, g, ni, w);
}

}  // namespace

template <typename Work>
Status gramEigenvalues(const MatrixView& w, std::vector<double>& out, double& sumOfSquares) {
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
  const lapack_int info = syevd(n, g.get(), ev.get());
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

template Status gramEigenvalues<double>(const MatrixView&, std::vector<double>&, double&);
template Status gramEigenvalues<float>(const MatrixView&, std::vector<double>&, double&);

double gramErrorBound(size_t /*m*/, size_t n, double lambdaMax, double eps) {
  return kGramErrorC * std::sqrt(static_cast<double>(n)) * eps * lambdaMax;
}

}  // namespace ww
