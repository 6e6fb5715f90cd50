#include "core/convert.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/matrix.h"

namespace ww {

float halfToFloat(unsigned short h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t frac = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (frac << 13);  // Inf / NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (frac << 13);  // normal: rebias 15 → 127
  } else if (frac == 0) {
    bits = sign;  // ±0
  } else {
    // subnormal half (frac·2⁻²⁴): shift the fraction up to its leading 1 and lower the exponent
    uint32_t e = 113;
    while ((frac & 0x400u) == 0) {
      frac <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((frac & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

namespace {

// Element readers: each returns the stored value as float (half/bfloat widen exactly) or double.
struct ReadF64 {
  const double* p;
  double operator()(size_t k) const { return p[k]; }
};
struct ReadF32 {
  const unsigned char* p;
  float operator()(size_t k) const {
    float v;
    std::memcpy(&v, p + 4 * k, 4);
    return v;
  }
};
struct ReadF16 {
  const unsigned char* p;
  float operator()(size_t k) const {
    unsigned short h;
    std::memcpy(&h, p + 2 * k, 2);
    return halfToFloat(h);
  }
};
struct ReadBF16 {
  const unsigned char* p;
  float operator()(size_t k) const {
    unsigned short h;
    std::memcpy(&h, p + 2 * k, 2);
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
};

// Calls fn(reader) with the reader for src's dtype: one switch, then tight typed loops.
template <typename Fn>
auto withReader(const MatrixView& src, Fn&& fn) {
  const auto* bytes = static_cast<const unsigned char*>(src.data);
  switch (src.dtype) {
    case DType::F32: return fn(ReadF32{bytes});
    case DType::F16: return fn(ReadF16{bytes});
    case DType::BF16: return fn(ReadBF16{bytes});
    case DType::F64: break;
  }
  return fn(ReadF64{static_cast<const double*>(src.data)});
}

template <typename Work, typename Read>
bool copyTall(const Read& read, size_t rows, size_t cols, Work* dst) {
  bool finite = true;
  if (rows >= cols) {
    // tall W: transpose into column-major, cache-blocked (the naive loop thrashes on 4k × 4k)
    constexpr size_t kBlock = 64;
    for (size_t i0 = 0; i0 < rows; i0 += kBlock) {
      const size_t i1 = std::min(rows, i0 + kBlock);
      for (size_t j0 = 0; j0 < cols; j0 += kBlock) {
        const size_t j1 = std::min(cols, j0 + kBlock);
        for (size_t i = i0; i < i1; ++i) {
          for (size_t j = j0; j < j1; ++j) {
            const Work v = static_cast<Work>(read(i * cols + j));
            finite &= std::isfinite(v);
            dst[j * rows + i] = v;
          }
        }
      }
    }
  } else {
    const size_t total = rows * cols;
    for (size_t k = 0; k < total; ++k) {
      const Work v = static_cast<Work>(read(k));
      finite &= std::isfinite(v);
      dst[k] = v;
    }
  }
  return finite;
}

}  // namespace

template <typename Work>
Status nonFiniteError(const MatrixView& src) {
  return withReader(src, [&](const auto& read) {
    // (a finite float64 beyond float32's range counts as non-finite in a float32 working copy)
    const size_t total = src.rows * src.cols;
    size_t k = 0;
    while (k + 1 < total && std::isfinite(static_cast<Work>(read(k)))) ++k;
    return Status::error(Code::NonFinite, "matrix contains a non-finite value (" + std::to_string(static_cast<double>(read(k))) + ") at row " +
                                              std::to_string(k / src.cols) + ", column " + std::to_string(k % src.cols));
  });
}

template <typename Work>
Status tallCopy(const MatrixView& src, Work* dst, TallShape& shape) {
  Status st = checkDims(src.rows, src.cols);
  if (!st.isOk()) return st;
  if (src.data == nullptr) return Status::error(Code::Empty, "no matrix data");
  shape.m = std::max(src.rows, src.cols);
  shape.n = std::min(src.rows, src.cols);
  const bool finite = withReader(src, [&](const auto& read) { return copyTall(read, src.rows, src.cols, dst); });
  return finite ? Status::ok() : nonFiniteError<Work>(src);
}

template <typename Work>
bool convertBlock(const MatrixView& src, size_t r0, size_t r1, size_t c0, size_t c1, Work* dst, SumOfSquares& squares) {
  return withReader(src, [&](const auto& read) {
    bool finite = true;
    const size_t w = c1 - c0;
    for (size_t i = r0; i < r1; ++i) {
      Work* out = dst + (i - r0) * w;
      const size_t base = i * src.cols + c0;
      // Two branch-free loops the compiler vectorises: convert, then the row's squares in plain
      // double (the rows are summed compensated). A NaN or ±Inf makes the row sum non-finite; only
      // then (or when squares overflow) are the row's values checked one by one.
      for (size_t j = 0; j < w; ++j) out[j] = static_cast<Work>(read(base + j));
      double row = 0;
      for (size_t j = 0; j < w; ++j) row += static_cast<double>(out[j]) * static_cast<double>(out[j]);
      if (!std::isfinite(row)) {
        for (size_t j = 0; j < w; ++j) finite &= std::isfinite(out[j]);
      }
      squares.add(row);
    }
    return finite;
  });
}

template Status nonFiniteError<double>(const MatrixView&);
template Status nonFiniteError<float>(const MatrixView&);
template Status tallCopy<double>(const MatrixView&, double*, TallShape&);
template Status tallCopy<float>(const MatrixView&, float*, TallShape&);
template bool convertBlock<double>(const MatrixView&, size_t, size_t, size_t, size_t, double*, SumOfSquares&);
template bool convertBlock<float>(const MatrixView&, size_t, size_t, size_t, size_t, float*, SumOfSquares&);

}  // namespace ww
