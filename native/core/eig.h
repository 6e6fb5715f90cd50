// Symmetric eigen-decomposition with eigenvectors (LAPACK ?syevd through LAPACKE), used by the
// eigenvector metrics (`vectors=True`, R34): the smaller Gram matrix X = W·Wᵀ (rows ≤ cols)
// or Wᵀ·W of a weight matrix, its eigenvalues ascending and unit eigenvectors.
#pragma once
#include <cstddef>
#include <vector>

#include "core/status.h"

namespace ww {

struct SymEigen {
  size_t n = 0;
  std::vector<double> values;   // ascending
  std::vector<double> vectors;  // n×n; eigenvector j is vectors[j*n .. j*n + n)
};

// Eigen-decomposition of the symmetric n×n matrix `a` (row- or column-major: it is symmetric).
Status symmetricEigen(const double* a, size_t n, SymEigen& out);

// Gram matrix of a row-major rows×cols matrix (the smaller of W·Wᵀ, Wᵀ·W, in float64), decomposed.
Status gramEigen(const float* w, size_t rows, size_t cols, SymEigen& out);
Status gramEigen(const double* w, size_t rows, size_t cols, SymEigen& out);

}  // namespace ww
