// Singular values of a dense matrix with LAPACK's divide-and-conquer ?gesdd (values only).
#pragma once
#include <cstddef>
#include <vector>

#include "core/status.h"

namespace ww {

enum class Precision { Float64, Float32 };

// Input: `rows` x `cols` matrix stored row-major as float or double. Output: min(rows, cols)
// singular values sorted ascending, always widened to double. The input is never modified:
// ?gesdd overwrites its argument, so exactly one working copy is made, laid out tall.
Status singularValues(const float* data, size_t rows, size_t cols, Precision precision, std::vector<double>& out);
Status singularValues(const double* data, size_t rows, size_t cols, Precision precision, std::vector<double>& out);

}  // namespace ww
