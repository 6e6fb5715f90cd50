// Dense matrix product in float64 (BLAS dgemm), for the intra-layer analysis (R37).
#pragma once
#include <cstddef>
#include <vector>

#include "core/status.h"

namespace ww {

// C = A·B with A m×k and B k×n, all row-major. Inputs are widened to float64 first.
Status matmul(const float* a, const float* b, size_t m, size_t k, size_t n, std::vector<double>& c);
Status matmul(const double* a, const double* b, size_t m, size_t k, size_t n, std::vector<double>& c);

}  // namespace ww
