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
// precision (double: ?=d, float: ?=s). `solver`: the caller chooses it with gramSolverFor;
// `threads`: the OpenBLAS count the call runs with (TwoStageSplit sets it to 1 for its band stage and
// back to `threads` after).
enum class GramSolver {
  OneStage,       // ?syevd
  TwoStage,       // ?syevd_2stage
  TwoStageSplit,  // ?syevd_2stage's steps with the band → tridiagonal stage on one thread
};
template <typename Work>
Status gramEigenvalues(const MatrixView& w, GramSolver solver, int threads, std::vector<double>& out, double& sumOfSquares);
const char* gramSolverName(GramSolver s);

// The Gram route's eigensolver for an n×n Gram matrix on `threads` OpenBLAS threads. `exclusive`:
// the call is the only one using OpenBLAS in the process (the scheduler gave it the whole budget),
// so it may run the band stage on one thread: OpenBLAS's count is process-wide, and lowering it
// under other calls in flight would change their bits. A pure function of the plan, never of load
// or timing: measured in docs/performance.md.
GramSolver gramSolverFor(size_t n, int threads, bool exclusive);

// Upper bound on |λ̂ᵢ − λᵢ| for every eigenvalue the Gram route computes for an m×n matrix (m ≥ n)
// with largest eigenvalue `lambdaMax`, where `eps` is the working precision's unit roundoff:
// kGramErrorC·√n·eps·λmax. kGramErrorC is calibrated by bench/gram-error.bench.ts (the worst ratio
// seen over many shapes and spectra, times a safety margin; docs/numerics.md).
double gramErrorBound(size_t m, size_t n, double lambdaMax, double eps);
constexpr double kGramErrorC = 32.0;

}  // namespace ww
