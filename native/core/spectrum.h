// The spectrum of one matrix by the route its accuracy needs (docs/numerics.md):
//   accurate: ?gesdd, always (the reference's algorithm).
//   fast:     Gram eigenvalues (?syrk + ?syevd) for every σ², accurate to δ = gramErrorBound in
//             absolute terms. The smallest singular value needs relative accuracy (sv_min; rank
//             columns count against a threshold near it), which the Gram route has only when
//             δ/(2λ₁) ≤ 1e-10. Otherwise σmin is recomputed from an LU (square) or QR (tall)
//             factorization by inverse iteration ('gram+lu' / 'gram+qr'), and where that is not
//             possible (σmin/σmax < 1e-6, tiny matrices, no convergence) the matrix goes to ?gesdd.
// Float32 precision is opt-in: ?gesdd → sgesdd, Gram → ssyrk + ssyevd ('sgram'), whose σmin must be
// good to 1e-3 relative (sgesdd's class of accuracy), else refined in float64 as above
// ('sgram+lu' / 'sgram+qr'), and whose rank must be certain, else sgesdd.
#pragma once
#include <string>
#include <vector>

#include "core/convert.h"
#include "core/status.h"
#include "core/svd.h"

namespace ww {

enum class Method { Fast, Accurate };
enum class Route { Gram, GramLu, GramQr, Gesdd, SGram, SGramLu, SGramQr, SGesdd };
const char* routeName(Route r);

struct SpectrumOptions {
  Method method = Method::Accurate;
  Precision precision = Precision::Float64;
  // sv_min must be as accurate as ?gesdd's (analyze, svdvals). False when only the ESD matters
  // (randomized ESDs, get_ESD): the Gram values are used as they are.
  bool refineMin = true;
  // > 0: full numerical rank under numpy's tolerance σmax·rankN·ε must be certain, else ?gesdd.
  double rankN = 0;
  // Calibration and benchmarks only: the Gram values, no guard, no refinement.
  bool forceGram = false;
};

struct Spectrum {
  std::vector<double> sv;     // singular values, ascending
  std::vector<double> evals;  // their squares (λ = σ² on ?gesdd routes, the Gram eigenvalues otherwise)
  Route route = Route::Gesdd;
  // Bound on |λ̂ᵢ − λᵢ| for the Gram eigenvalues (λ₁ excepted after refinement); 0 on ?gesdd routes.
  double errorBound = 0;
  // Σ w² of the matrix (compensated; Gram routes only, else 0): what Σλ must equal.
  double sumOfSquares = 0;
  // Why the fast method ran ?gesdd; empty otherwise.
  std::string fallback;
  int refineIterations = 0, refineBlock = 0;
  // Wall time of each phase (benchmarks: GFLOP/s per route).
  double gramSeconds = 0, refineSeconds = 0, gesddSeconds = 0;
};

Status computeSpectrum(const MatrixView& w, const SpectrumOptions& o, Spectrum& out);

// Guard constants (docs/numerics.md).
constexpr double kSvMinRelTol = 1e-10;    // relative accuracy required of sv_min (10× under the parity tolerance)
constexpr double kSvMinRelTolF32 = 1e-3;  // the same for the opt-in float32 Gram route (sgesdd measures ~4e-4 on the corpus)
constexpr double kRefineFloor = 1e-12;    // refine σmin only when λ₁ ≥ kRefineFloor·λmax (σmin/σmax ≥ 1e-6)
constexpr size_t kMinRefineOrder = 64;    // below this ?gesdd is as cheap as the refinement

}  // namespace ww
