// The smallest singular value of a matrix to the accuracy ?gesdd gives it (absolute error of a
// small multiple of ε·σmax), for the layers whose Gram eigenvalues cannot provide it: a
// backward-stable factorization of the matrix itself — LU with partial pivoting (?getrf) when it
// is square, Householder QR (?geqrf) when it is tall — then block inverse subspace iteration on
// (AᵀA)⁻¹ through triangular solves, and a Rayleigh–Ritz step on A⁻¹, where the largest singular
// value 1/σmin is found to high relative accuracy. Both factorizations are BLAS-3 and cost
// ⅔n³ (LU) or 2mn² − ⅔n³ (QR) flops, against ?gesdd's memory-bound bidiagonalisation.
#pragma once
#include <cstddef>
#include <vector>

#include "core/status.h"

namespace ww {

struct SigmaMinResult {
  double sigma = 0;
  int iterations = 0;
  int blockSize = 0;
  // False when the iteration could not be set up or did not converge (singular factor, no block
  // size with a usable gap, iteration budget exhausted): the caller must use ?gesdd instead.
  bool converged = false;
  const char* factorization = "";  // "lu" or "qr"
};

// `a`: the tall column-major m×n working copy (m ≥ n, leading dimension m); it is overwritten by the
// factorization. `gramEvals` (ascending) and `delta` (their error bound) choose the block size so
// the iteration converges fast: the smallest b with (λ₁+δ)/(λ_{b+1}−δ) ≤ 1/4. A non-OK status only
// for allocation failures; numerical trouble gives converged = false.
Status smallestSingularValue(double* a, size_t m, size_t n, const std::vector<double>& gramEvals, double delta, SigmaMinResult& out);

}  // namespace ww
