// Singular values of a dense matrix with LAPACK's divide-and-conquer ?gesdd (values only).
#pragma once
#include <cstddef>
#include <vector>

#include "core/convert.h"
#include "core/status.h"

namespace ww {

enum class Precision { Float64, Float32 };

// Input: a row-major matrix in any stored dtype. Output: min(rows, cols) singular values sorted
// ascending, always widened to double. The input is never modified: ?gesdd overwrites its
// argument, so exactly one working copy is made, laid out tall (core/convert.h).
Status singularValues(const MatrixView& w, Precision precision, std::vector<double>& out);
Status singularValues(const float* data, size_t rows, size_t cols, Precision precision, std::vector<double>& out);
Status singularValues(const double* data, size_t rows, size_t cols, Precision precision, std::vector<double>& out);

// ?gesdd on an existing tall column-major working copy (m×n, m ≥ n, leading dimension m), which it
// destroys. Output ascending.
template <typename Work>
Status gesddValues(Work* a, size_t m, size_t n, std::vector<double>& out);

}  // namespace ww
