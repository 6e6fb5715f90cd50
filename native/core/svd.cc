#include "core/svd.h"

#include "core/matrix.h"

#include <lapacke.h>

#include <algorithm>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace ww {
namespace {

lapack_int gesdd(size_t m, size_t n, double* a, size_t lda, double* s) {
  // LAPACKE's column-major path calls ?gesdd directly (no transposed temporary); ldu/ldvt of 1 are
  // valid there for jobz='N'.
  return LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a, static_cast<lapack_int>(lda), s, nullptr, 1,
                        nullptr, 1);
}

lapack_int gesdd(size_t m, size_t n, float* a, size_t lda, float* s) {
  return LAPACKE_sgesdd(LAPACK_COL_MAJOR, 'N', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a, static_cast<lapack_int>(lda), s, nullptr, 1,
                        nullptr, 1);
}

lapack_int geqrt(size_t m, size_t n, size_t nb, double* a, double* t, double* work) {
  return LAPACKE_dgeqrt_work(LAPACK_COL_MAJOR, static_cast<lapack_int>(m), static_cast<lapack_int>(n), static_cast<lapack_int>(nb), a,
                             static_cast<lapack_int>(m), t, static_cast<lapack_int>(nb), work);
}

lapack_int geqrt(size_t m, size_t n, size_t nb, float* a, float* t, float* work) {
  return LAPACKE_sgeqrt_work(LAPACK_COL_MAJOR, static_cast<lapack_int>(m), static_cast<lapack_int>(n), static_cast<lapack_int>(nb), a,
                             static_cast<lapack_int>(m), t, static_cast<lapack_int>(nb), work);
}

// ?gesdd reduces a matrix with m ≥ 11n/6 rows (its MNTHR) to the triangular factor R of a
// Householder QR (?geqrf) and works on R. We do that QR ourselves with ?geqrt, the same
// Householder QR with a recursive panel factorization and compact-WY block reflectors, which is
// 5–10% faster at these shapes with Debian's OpenBLAS (docs/performance.md, the gesdd route), and
// hand ?gesdd the R. The singular values are R's either way.
template <typename Work>
bool reduceToTriangle(Work* a, size_t m, size_t n) {
  if (n < 2 || m < (n * 11) / 6) return false;
  const size_t nb = std::min(n, n >= 1024 ? size_t{128} : size_t{64});
  std::vector<Work> t, work;
  try {
    t.resize(nb * n);
    work.resize(nb * n);
  } catch (const std::bad_alloc&) {
    return false;  // ?gesdd's own QR needs less
  }
  if (geqrt(m, n, nb, a, t.data(), work.data()) != 0) return false;
  for (size_t j = 0; j + 1 < n; ++j) std::fill(a + j * m + j + 1, a + j * m + n, Work{0});
  return true;
}

template <typename Work>
Status run(const MatrixView& w, std::vector<double>& out) {
  std::unique_ptr<Work[]> a;
  try {
    a.reset(new Work[w.rows * w.cols]);
  } catch (const std::bad_alloc&) {
    return Status::error(Code::Alloc,
                         "out of memory allocating the SVD working copy (" + std::to_string(w.rows) + "x" + std::to_string(w.cols) + ")");
  }
  TallShape t;
  Status st = tallCopy(w, a.get(), t);
  if (!st.isOk()) return st;
  return gesddValues(a.get(), t.m, t.n, out);
}

}  // namespace

template <typename Work>
Status gesddValues(Work* a, size_t m, size_t n, std::vector<double>& out) {
  std::unique_ptr<Work[]> s;
  try {
    s.reset(new Work[n]);
  } catch (const std::bad_alloc&) {
    return Status::error(Code::Alloc, "out of memory allocating the singular values");
  }
  // ?geqrt fails only on illegal arguments, before it touches the copy: ?gesdd then does it all.
  const bool triangle = reduceToTriangle(a, m, n);
  const lapack_int info = triangle ? gesdd(n, n, a, m, s.get()) : gesdd(m, n, a, m, s.get());
  if (info != 0) {
    return Status::error(Code::Lapack, std::string(sizeof(Work) == 8 ? "dgesdd" : "sgesdd") + " failed with info=" + std::to_string(info) +
                                           (info > 0 ? " (the divide-and-conquer iteration did not converge)" : " (illegal argument)"));
  }
  out.resize(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<double>(s[i]);
  std::sort(out.begin(), out.end());  // LAPACK returns descending order; the reference sorts ascending
  return Status::ok();
}

template Status gesddValues<double>(double*, size_t, size_t, std::vector<double>&);
template Status gesddValues<float>(float*, size_t, size_t, std::vector<double>&);

Status singularValues(const MatrixView& w, Precision precision, std::vector<double>& out) {
  Status st = checkDims(w.rows, w.cols);  // before sizing the working copy
  if (!st.isOk()) return st;
  return precision == Precision::Float64 ? run<double>(w, out) : run<float>(w, out);
}

Status singularValues(const float* data, size_t rows, size_t cols, Precision precision, std::vector<double>& out) {
  return singularValues(MatrixView{data, DType::F32, rows, cols}, precision, out);
}

Status singularValues(const double* data, size_t rows, size_t cols, Precision precision, std::vector<double>& out) {
  return singularValues(MatrixView{data, DType::F64, rows, cols}, precision, out);
}

}  // namespace ww
