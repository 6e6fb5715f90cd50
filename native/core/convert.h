// The one working copy every decomposition starts from: a row-major matrix in its stored dtype
// (float32, float64, or raw little-endian F32/F16/BF16 bytes straight from a model file) becomes a
// tall column-major matrix in the working precision, in a single pass that also rejects
// non-finite values. Half floats widen exactly, so the values are identical to decoding to
// float32 first and widening afterwards.
#pragma once
#include <cmath>
#include <cstddef>

#include "core/status.h"

namespace ww {

enum class DType { F32, F64, F16, BF16 };

// `data` points at rows·cols elements of `dtype`, row-major. For F16/BF16 (and F32 given as raw
// bytes) the pointer need not be aligned: elements are read with memcpy.
struct MatrixView {
  const void* data = nullptr;
  DType dtype = DType::F64;
  size_t rows = 0, cols = 0;
};

inline size_t dtypeBytes(DType t) {
  switch (t) {
    case DType::F64: return 8;
    case DType::F32: return 4;
    case DType::F16:
    case DType::BF16: return 2;
  }
  return 0;
}

// Shape of the tall working copy: m = max(rows, cols) rows, n = min(rows, cols) columns. A
// row-major r×c matrix is, byte for byte, the column-major c×r matrix Wᵀ, and both have the same
// singular values; LAPACK is fastest on tall column-major input, so a tall W is transposed while
// converting and a wide W is only converted.
struct TallShape {
  size_t m = 0, n = 0;
};

// Validates dims (checkDims) and fills `dst` (m·n elements, leading dimension m). Fails with
// Code::NonFinite naming the first offending row and column of W as stored.
template <typename Work>
Status tallCopy(const MatrixView& src, Work* dst, TallShape& shape);

// Σ w² of the converted values, with Neumaier's compensated summation (relative error ~2ε for any
// count): the squared Frobenius norm that the eigenvalues of WᵀW must add up to.
struct SumOfSquares {
  double sum = 0, compensation = 0;
  void add(double v) {
    const double t = sum + v;
    compensation += std::fabs(sum) >= std::fabs(v) ? (sum - t) + v : (v - t) + sum;
    sum = t;
  }
  double value() const { return sum + compensation; }
};

// Converts the row-major block W[r0:r1, c0:c1] into `dst`, row-major (r1−r0)×(c1−c0), adding the
// squares of the converted values to `squares`. Returns false if a value is not finite in the
// working precision (then report nonFiniteError(src)).
template <typename Work>
bool convertBlock(const MatrixView& src, size_t r0, size_t r1, size_t c0, size_t c1, Work* dst, SumOfSquares& squares);

// The Code::NonFinite status for `src`, naming its first non-finite element in row-major order.
template <typename Work>
Status nonFiniteError(const MatrixView& src);

// IEEE half → float, exact (every F16 value is a float).
float halfToFloat(unsigned short h);

}  // namespace ww
