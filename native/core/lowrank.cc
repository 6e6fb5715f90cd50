#include "core/lowrank.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <string>

#include "core/matrix.h"

namespace ww {
namespace {

// A row-major rows×cols buffer is, byte for byte, the column-major cols×rows matrix X = Wᵀ. We
// decompose X = U·Σ·Vᵀ and rebuild X_k column-major, which is W_k row-major: no transposes, and
// the triplets of X and W are the same up to swapping U and V.
template <typename Src>
Status run(const Src* data, size_t rows, size_t cols, size_t k, LowRankMode mode, LowRank& out) {
  Status st = checkMatrix(data, rows, cols);
  if (!st.isOk()) return st;
  const size_t m = cols, n = rows, mn = std::min(m, n);
  std::vector<double> a, u, vt, s;
  try {
    a.assign(data, data + rows * cols);
    u.resize(m * mn);
    vt.resize(mn * n);
    s.resize(mn);
  } catch (const std::bad_alloc&) {
    return Status::error(Code::Alloc, "out of memory allocating the SVD factors (" + std::to_string(rows) + "x" + std::to_string(cols) + ")");
  }
  const lapack_int info =
      LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', static_cast<lapack_int>(m), static_cast<lapack_int>(n), a.data(), static_cast<lapack_int>(m), s.data(),
                     u.data(), static_cast<lapack_int>(m), vt.data(), static_cast<lapack_int>(mn));
  if (info != 0) {
    return Status::error(Code::Lapack, "dgesdd failed with info=" + std::to_string(info) +
                                           (info > 0 ? " (the divide-and-conquer iteration did not converge)" : " (illegal argument)"));
  }
  // LAPACK returns σ descending: triplets [lo, hi) are the ones kept.
  const size_t kk = std::min(k, mn);
  const size_t lo = mode == LowRankMode::KeepTop ? 0 : kk;
  const size_t hi = mode == LowRankMode::KeepTop ? kk : mn;
  // `a` was overwritten by dgesdd; it becomes the output (m×n column-major = rows×cols row-major).
  std::fill(a.begin(), a.end(), 0.0);
  if (hi > lo) {
    for (size_t j = lo; j < hi; ++j) {
      double* col = u.data() + j * m;
      for (size_t i = 0; i < m; ++i) col[i] *= s[j];
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(hi - lo), 1.0,
                u.data() + lo * m, static_cast<blasint>(m), vt.data() + lo, static_cast<blasint>(mn), 0.0, a.data(), static_cast<blasint>(m));
  }
  out.matrix = std::move(a);
  std::reverse(s.begin(), s.end());
  out.singular = std::move(s);
  return Status::ok();
}

}  // namespace

Status lowRankApprox(const float* data, size_t rows, size_t cols, size_t k, LowRankMode mode, LowRank& out) {
  return run(data, rows, cols, k, mode, out);
}

Status lowRankApprox(const double* data, size_t rows, size_t cols, size_t k, LowRankMode mode, LowRank& out) {
  return run(data, rows, cols, k, mode, out);
}

}  // namespace ww
