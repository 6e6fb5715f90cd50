// Truncated SVD reconstruction for SVD smoothing and sharpening (docs/reference-differences.md R41, R42): the exact
// singular value decomposition W = U·Σ·Vᵀ (LAPACK dgesdd, jobz='S', float64) rebuilt from a chosen
// range of its singular triplets. Deterministic for a given BLAS thread count.
#pragma once
#include <cstddef>
#include <vector>

#include "core/status.h"

namespace ww {

// KeepTop: W_k = Σ_{i<k} σ_i u_i v_iᵀ (the best rank-k approximation; k ≥ min(rows, cols) keeps W).
// DropTop: W − W_k, i.e. the k largest singular triplets removed (k ≥ min(rows, cols) gives zeros).
enum class LowRankMode { KeepTop, DropTop };

struct LowRank {
  std::vector<double> matrix;    // rows×cols, row-major, same layout as the input
  std::vector<double> singular;  // all min(rows, cols) singular values of the input, ascending
};

// `data` is a row-major rows×cols matrix (float or double); it is never modified.
Status lowRankApprox(const float* data, size_t rows, size_t cols, size_t k, LowRankMode mode, LowRank& out);
Status lowRankApprox(const double* data, size_t rows, size_t cols, size_t k, LowRankMode mode, LowRank& out);

}  // namespace ww
