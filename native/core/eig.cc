#include "core/eig.h"

#include "core/matrix.h"

#include <cblas.h>
#include <lapacke.h>

#include <cmath>
#include <limits>
#include <string>

namespace ww {
namespace {

template <typename Src>
Status gram(const Src* w, size_t rows, size_t cols, SymEigen& out) {
  Status st = checkMatrix(w, rows, cols);
  if (!st.isOk()) return st;
  std::vector<double> a(w, w + rows * cols);
  // Row-major W (rows×cols) is column-major Wᵀ (cols×rows) = A with lda = cols.
  const size_t n = std::min(rows, cols);
  std::vector<double> x(n * n, 0.0);
  const auto ni = static_cast<blasint>(n);
  if (rows <= cols) {
    // X = W·Wᵀ = Aᵀ·A (rows×rows)
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, ni, static_cast<blasint>(cols), 1.0, a.data(), static_cast<blasint>(cols), 0.0, x.data(), ni);
  } else {
    // X = Wᵀ·W = A·Aᵀ (cols×cols)
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, ni, static_cast<blasint>(rows), 1.0, a.data(), static_cast<blasint>(cols), 0.0, x.data(),
                ni);
  }
  // mirror the upper triangle so the buffer is a full symmetric matrix
  for (size_t j = 0; j < n; ++j)
    for (size_t i = 0; i < j; ++i) x[i * n + j] = x[j * n + i];
  return symmetricEigen(x.data(), n, out);
}

}  // namespace

Status symmetricEigen(const double* a, size_t n, SymEigen& out) {
  if (n == 0) return Status::error(Code::Empty, "empty matrix");
  if (n > static_cast<size_t>(std::numeric_limits<lapack_int>::max()))
    return Status::error(Code::Shape, "matrix dimension exceeds the LAPACK integer range");
  out.n = n;
  out.vectors.assign(a, a + n * n);
  out.values.assign(n, 0.0);
  const lapack_int info =
      LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', static_cast<lapack_int>(n), out.vectors.data(), static_cast<lapack_int>(n), out.values.data());
  if (info != 0)
    return Status::error(
        Code::Lapack, "dsyevd failed with info=" + std::to_string(info) + (info > 0 ? " (the algorithm did not converge)" : " (illegal argument)"));
  return Status::ok();  // column-major: eigenvector j is the contiguous column j; values ascending
}

Status gramEigen(const float* w, size_t rows, size_t cols, SymEigen& out) { return gram(w, rows, cols, out); }
Status gramEigen(const double* w, size_t rows, size_t cols, SymEigen& out) { return gram(w, rows, cols, out); }

}  // namespace ww
