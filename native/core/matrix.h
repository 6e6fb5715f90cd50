// Validation shared by every routine that takes a dense row-major matrix from JavaScript.
#pragma once
#include <lapacke.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>

#include "core/status.h"

namespace ww {

// Non-zero dimensions within LAPACK's integer range and a size that does not overflow.
inline Status checkDims(size_t rows, size_t cols) {
  if (rows == 0 || cols == 0)
    return Status::error(Code::Empty, "matrix has a zero dimension (" + std::to_string(rows) + "x" + std::to_string(cols) + ")");
  if (rows > static_cast<size_t>(std::numeric_limits<lapack_int>::max()) || cols > static_cast<size_t>(std::numeric_limits<lapack_int>::max()))
    return Status::error(Code::Shape, "matrix dimension exceeds the LAPACK integer range");
  if (rows > std::numeric_limits<size_t>::max() / cols) return Status::error(Code::Shape, "matrix size overflows");
  return Status::ok();
}

// checkDims plus: every element finite (NaN/Inf make LAPACK fail to converge or spin).
template <typename T>
Status checkMatrix(const T* data, size_t rows, size_t cols) {
  Status st = checkDims(rows, cols);
  if (!st.isOk()) return st;
  const size_t total = rows * cols;
  for (size_t k = 0; k < total; ++k) {
    if (!std::isfinite(data[k])) {
      return Status::error(Code::NonFinite, "matrix contains a non-finite value (" + std::to_string(static_cast<double>(data[k])) + ") at row " +
                                                std::to_string(k / cols) + ", column " + std::to_string(k % cols));
    }
  }
  return Status::ok();
}

}  // namespace ww
