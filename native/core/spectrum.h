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
// A layer (computeLayerSpectrum) is one or more such matrices (conv slices) and takes one route for
// all of them: this file is the only place where the route is decided (docs/numerics.md).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/convert.h"
#include "core/gram.h"
#include "core/status.h"
#include "core/svd.h"

namespace ww {

enum class Method { Fast, Accurate };
enum class Route { Gram, GramLu, GramQr, Gesdd, SGram, SGramLu, SGramQr, SGesdd };
const char* routeName(Route r);
// Route strength, matching ROUTE_ORDER in src/spectra/esd.ts: when a layer's matrices took
// different routes, the layer reports the strongest (a ?gesdd route never mixes with the others).
int routeStrength(Route r);

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
  // The OpenBLAS threads this call runs with (the caller's plan sets them process-wide): they choose
  // the Gram route's eigensolver (gramSolverFor in core/gram.h). Never read from load or timing.
  int threads = 1;
  // The call is the only OpenBLAS user of the process (the scheduler gave it the whole budget), so
  // the eigensolver may change the process-wide thread count for one of its stages (gram.h).
  bool exclusive = false;
  // Benchmarks only: force an eigensolver instead of the rule.
  enum class Eigensolver { Auto, OneStage, TwoStage, TwoStageSplit } eigensolver = Eigensolver::Auto;
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
  GramSolver solver = GramSolver::OneStage;  // Gram routes: the eigensolver that ran
  // Wall time of each phase (benchmarks: GFLOP/s per route).
  double gramSeconds = 0, refineSeconds = 0, gesddSeconds = 0;
};

Status computeSpectrum(const MatrixView& w, const SpectrumOptions& o, Spectrum& out);

// One layer: its matrices (conv slices; usually one), the ESD options and, for analyze, the
// layer's own guard. The route ladder, in order:
//   1. intra-layer (unsquared) ESDs and inverse ESDs need the smallest values exactly: ?gesdd;
//   2. each matrix by computeSpectrum (gram, gram+lu / gram+qr, or ?gesdd with the reason);
//   3. a layer never mixes routes: if one matrix needed ?gesdd, every matrix is recomputed with it;
//   4. layerGuard: the pooled ESD's rank, thresholds, λmax and Σλ must be provably within the parity
//      tolerances (the rules of docs/numerics.md), else the whole layer is recomputed with ?gesdd.
// What stays outside: the fit-dependent columns (alpha, log_alpha_norm, entropy, detX, mp_fit),
// checked in TypeScript after the fit (engine/route-guard.ts). That check cannot choose a route: it
// can only reject the Gram values, and the layer then takes the last rung, finishLayerWithGesdd,
// on the same matrices (the binding keeps them alive between the two; napi/layer_handle.cc).
struct LayerOptions {
  SpectrumOptions matrix;  // method, precision, refineMin, threads (rankN is set from N below)
  double N = 0;            // the layer's N: the rank tolerance σmax·N·ε
  size_t keep = SIZE_MAX;  // only the largest `keep` values of each matrix count (LoRA products, Q31)
  bool unsquared = false;  // intra-layer products: the ESD is the singular values themselves (Q15)
  bool inverse = false;    // the ESD is 1/λ: its tail is the smallest eigenvalues
  bool layerGuard = false;
  // layerGuard: no eigenvalue may lie within δ of these values (≤ 0: unused), each with the words
  // that name it in the fallback reason ("the fit threshold 1e-5", "the weak_rank_loss tolerance").
  std::vector<std::pair<double, std::string>> thresholds;
};

struct LayerSpectrum {
  std::vector<Spectrum> matrices;  // in input order
  Route route = Route::Gesdd;      // the route every matrix took (σmin refined on some for +lu/+qr)
  std::string fallback;            // why the fast method ran ?gesdd; empty otherwise
  double svMinLow = 0;             // certified lower bound on every kept σmin (the rank tolerance's check)
};

Status computeLayerSpectrum(const std::vector<MatrixView>& mats, const LayerOptions& o, LayerSpectrum& out);

// The last rung, for a layer computeLayerSpectrum left on a Gram route whose values a check after the
// power-law fit rejected (`why`): every matrix by ?gesdd, exactly as method Accurate computes them
// (the same values, bit for bit), the route the layer's precision's ?gesdd and `why` the fallback.
// A layer still never mixes routes: no Gram value of the first rung is kept.
Status finishLayerWithGesdd(const std::vector<MatrixView>& mats, const LayerOptions& o, std::string why, LayerSpectrum& out);

// Process-wide counts of the passes over a matrix's stored values, by what each pass feeds (tests:
// that a rejected layer's Gram values are not recomputed and each rung reads the stored bytes once).
struct SpectrumPasses {
  uint64_t gram = 0;    // Gram matrices accumulated (chunks converted on the fly)
  uint64_t refine = 0;  // full float64 working copies for the σmin refinement
  uint64_t gesdd = 0;   // full working copies for ?gesdd
};
SpectrumPasses spectrumPasses();

// Guard constants (docs/numerics.md).
constexpr double kSvMinRelTol = 1e-10;    // relative accuracy required of sv_min (10× under the parity tolerance)
constexpr double kSvMinRelTolF32 = 1e-3;  // the same for the opt-in float32 Gram route (sgesdd measures ~4e-4 on the corpus)
constexpr double kRefineFloor = 1e-12;    // refine σmin only when λ₁ ≥ kRefineFloor·λmax (σmin/σmax ≥ 1e-6)
constexpr size_t kMinRefineOrder = 64;    // below this ?gesdd is as cheap as the refinement

}  // namespace ww
