#include "core/svd.h"

#include "core/matrix.h"

#include <lapacke.h>

#include <algorithm>
#include <memory>
#include <string>

namespace ww {
namespace {

// A row-major r x c matrix is, byte for byte, the column-major c x r matrix W^T, and both have the
// same singular values. LAPACK is fastest on tall column-major input (the wide case goes through
// ?gelqf), so when W itself is tall we transpose while converting; when W is wide the free view W^T
// is already tall and the copy is a plain dtype conversion.
template <typename Src, typename Dst>
void copyTall(const Src* src, size_t rows, size_t cols, Dst* dst, size_t& m, size_t& n) {
  if (rows >= cols) {
    m = rows;
    n = cols;
    constexpr size_t kBlock = 64;  // cache-blocked transpose: the naive loop thrashes on 4k x 4k
    for (size_t i0 = 0; i0 < rows; i0 += kBlock) {
      const size_t i1 = std::min(rows, i0 + kBlock);
      for (size_t j0 = 0; j0 < cols; j0 += kBlock) {
        const size_t j1 = std::min(cols, j0 + kBlock);
        for (size_t i = i0; i < i1; ++i)
          for (size_t j = j0; j < j1; ++j) dst[j * rows + i] = static_cast<Dst>(src[i * cols + j]);
      }
    }
  } else {
    m = cols;
    n = rows;
    const size_t total = rows * cols;
    for (size_t k = 0; k < total; ++k) dst[k] = static_cast<Dst>(src[k]);
  }
}

template <typename Work>
lapack_int gesdd(size_t m, size_t n, Work* a, Work* s);

template <>
lapack_int gesdd<double>(size_t m, size_t n, double* a, double* s) {
  // LAPACKE's column-major path calls ?gesdd directly (no transposed temporary); ldu/ldvt of 1 are
  // valid there for jobz='N'.
  return LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a, static_cast<lapack_int>(m), s, nullptr, 1,
                        nullptr, 1);
}

template <>
lapack_int gesdd<float>(size_t m, size_t n, float* a, float* s) {
  return LAPACKE_sgesdd(LAPACK_COL_MAJOR, 'N', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a, static_cast<lapack_int>(m), s, nullptr, 1,
                        nullptr, 1);
}

template <typename Work, typename Src>
Status run(const Src* data, size_t rows, size_t cols, std::vector<double>& out) {
  std::unique_ptr<Work[]> a;
  std::unique_ptr<Work[]> s;
  try {
    a.reset(new Work[rows * cols]);
    s.reset(new Work[std::min(rows, cols)]);
  } catch (const std::bad_alloc&) {
    return Status::error(Code::Alloc, "out of memory allocating the SVD working copy (" + std::to_string(rows) + "x" + std::to_string(cols) + ")");
  }
  size_t m = 0, n = 0;
  copyTall(data, rows, cols, a.get(), m, n);
  const lapack_int info = gesdd<Work>(m, n, a.get(), s.get());
  if (info != 0) {
    return Status::error(Code::Lapack, std::string(sizeof(Work) == 8 ? "dgesdd" : "sgesdd") + " failed with info=" + std::to_string(info) +
                                           (info > 0 ? " (the divide-and-conquer iteration did not converge)" : " (illegal argument)"));
  }
  const size_t k = std::min(rows, cols);
  out.resize(k);
  for (size_t i = 0; i < k; ++i) out[i] = static_cast<double>(s[i]);
  std::sort(out.begin(), out.end());  // LAPACK returns descending order; the reference sorts ascending
  return Status::ok();
}

template <typename Src>
Status dispatch(const Src* data, size_t rows, size_t cols, Precision precision, std::vector<double>& out) {
  Status st = checkMatrix(data, rows, cols);
  if (!st.isOk()) return st;
  return precision == Precision::Float64 ? run<double>(data, rows, cols, out) : run<float>(data, rows, cols, out);
}

}  // namespace

Status singularValues(const float* data, size_t rows, size_t cols, Precision precision, std::vector<double>& out) {
  return dispatch(data, rows, cols, precision, out);
}

Status singularValues(const double* data, size_t rows, size_t cols, Precision precision, std::vector<double>& out) {
  return dispatch(data, rows, cols, precision, out);
}

}  // namespace ww
