#include "core/gemm.h"

#include <cblas.h>

#include "core/matrix.h"

namespace ww {
namespace {

template <typename T>
Status product(const T* a, const T* b, size_t m, size_t k, size_t n, std::vector<double>& c) {
  Status st = checkMatrix(a, m, k);
  if (!st.isOk()) return st;
  st = checkMatrix(b, k, n);
  if (!st.isOk()) return st;
  st = checkDims(m, n);
  if (!st.isOk()) return st;
  const std::vector<double> A(a, a + m * k);
  const std::vector<double> B(b, b + k * n);
  c.assign(m * n, 0.0);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0, A.data(),
              static_cast<blasint>(k), B.data(), static_cast<blasint>(n), 0.0, c.data(), static_cast<blasint>(n));
  return Status::ok();
}

}  // namespace

Status matmul(const float* a, const float* b, size_t m, size_t k, size_t n, std::vector<double>& c) { return product(a, b, m, k, n, c); }
Status matmul(const double* a, const double* b, size_t m, size_t k, size_t n, std::vector<double>& c) { return product(a, b, m, k, n, c); }

}  // namespace ww
