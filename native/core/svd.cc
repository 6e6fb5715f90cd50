#include "core/svd.h"

#include "core/matrix.h"

#include <lapacke.h>

#include <algorithm>
#include <memory>
#include <string>

namespace ww {
namespace {

lapack_int gesdd(size_t m, size_t n, double* a, double* s) {
  // LAPACKE's column-major path calls ?gesdd directly (no transposed temporary); ldu/ldvt of 1 are
  // valid there for jobz='N'.
  return LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a, static_cast<lapack_int>(m), s, nullptr, 1,
                        nullptr, 1);
}

lapack_int gesdd(size_t m, size_t n, float* a, float* s) {
  return LAPACKE_sgesdd(LAPACK_COL_MAJOR, 'N', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a, static_cast<lapack_int>(m), s, nullptr, 1,
                        nullptr, 1);
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
  const lapack_int info = gesdd(m, n, a, s.get());
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
