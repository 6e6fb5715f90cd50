// Eigenvalues of the smaller Gram matrix of W — W·Wᵀ when rows ≤ cols, else Wᵀ·W — with ?syrk and
// the divide-and-conquer symmetric eigensolver ?syevd (values only): the σ² of W in about a third
// of ?gesdd's time, with an absolute error that is a small multiple of ε·λmax (gramErrorBound).
// The Gram matrix is accumulated from chunks of W converted straight from its stored dtype, so no
// full working copy of W is ever made: memory is the n×n Gram matrix plus one ≤32 MiB chunk.
#pragma once
#include <cstddef>
#include <vector>

#include "core/convert.h"
#include "core/status.h"

namespace ww {

// `out`: the min(rows, cols) eigenvalues, ascending, widened to double and clamped at 0 (a Gram
// matrix has none below). `sumOfSquares`: Σ w² of the converted values, compensated (the exact
// sum the eigenvalues should have, for the guard's a-posteriori check). Work is the working
// precision (double: ?=d, float: ?=s). `twoStage`: ?syevd_2stage instead of ?syevd (the caller
// chooses, with twoStageEigensolver).
template <typename Work>
Status gramEigenvalues(const MatrixView& w, bool twoStage, std::vector<double>& out, double& sumOfSquares);

// The eigensolver for an n×n Gram matrix on `threads` BLAS threads: true → ?syevd_2stage (full →
// band with BLAS-3, then band → tridiagonal, which runs on one thread in OpenBLAS 0.3.21 / LAPACK
// 3.11), false → one-stage ?syevd (?sytrd, whose BLAS-2 half scales with threads): from n = 3072 on
// one thread, from n = 6144 on more. A pure function of the plan (n, threads), never of load or
// timing: measured in docs/performance.md.
bool twoStageEigensolver(size_t n, int threads);

// Upper bound on |λ̂ᵢ − λᵢ| for every eigenvalue the Gram route computes for an m×n matrix (m ≥ n)
// with largest eigenvalue `lambdaMax`, where `eps` is the working precision's unit roundoff:
// kGramErrorC·√n·eps·λmax. kGramErrorC is calibrated by bench/gram-error.bench.ts (the worst ratio
// seen over many shapes and spectra, times a safety margin; docs/numerics.md).
double gramErrorBound(size_t m, size_t n, double lambdaMax, double eps);
constexpr double kGramErrorC = 32.0;

}  // namespace ww
