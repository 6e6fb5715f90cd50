#include "core/gram.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "core/blas_info.h"
#include "core/matrix.h"

// The two stages of ?sytrd_2stage, called one by one so that the second runs on one thread
// (LAPACK 3.11 reference interfaces; hidden character lengths as gfortran passes them).
extern "C" {
lapack_int ilaenv2stage_(const lapack_int* ispec, const char* name, const char* opts, const lapack_int* n1, const lapack_int* n2,
                         const lapack_int* n3, const lapack_int* n4, size_t nameLen, size_t optsLen);
void dsytrd_sy2sb_(const char* uplo, const lapack_int* n, const lapack_int* kd, double* a, const lapack_int* lda, double* ab, const lapack_int* ldab,
                   double* tau, double* work, const lapack_int* lwork, lapack_int* info, size_t);
void ssytrd_sy2sb_(const char* uplo, const lapack_int* n, const lapack_int* kd, float* a, const lapack_int* lda, float* ab, const lapack_int* ldab,
                   float* tau, float* work, const lapack_int* lwork, lapack_int* info, size_t);
void dsytrd_sb2st_(const char* stage1, const char* vect, const char* uplo, const lapack_int* n, const lapack_int* kd, double* ab,
                   const lapack_int* ldab, double* d, double* e, double* hous, const lapack_int* lhous, double* work, const lapack_int* lwork,
                   lapack_int* info, size_t, size_t, size_t);
void ssytrd_sb2st_(const char* stage1, const char* vect, const char* uplo, const lapack_int* n, const lapack_int* kd, float* ab,
                   const lapack_int* ldab, float* d, float* e, float* hous, const lapack_int* lhous, float* work, const lapack_int* lwork,
                   lapack_int* info, size_t, size_t, size_t);
}

namespace ww {
namespace {

constexpr size_t kChunkBytes = size_t{32} << 20;
// On one thread, from this order on ?syevd_2stage beats ?syevd (gramSolverFor).
constexpr size_t kTwoStageOrder = 3072;

// G (+)= XXᵀ (trans = false, X n×k, ld n) or XᵀX (trans = true, X k×n, ld k); upper triangle.
void syrk(bool trans, size_t n, size_t k, const double* x, size_t ld, bool accumulate, double* g) {
  cblas_dsyrk(CblasColMajor, CblasUpper, trans ? CblasTrans : CblasNoTrans, static_cast<blasint>(n), static_cast<blasint>(k), 1.0, x,
              static_cast<blasint>(ld), accumulate ? 1.0 : 0.0, g, static_cast<blasint>(n));
}
void syrk(bool trans, size_t n, size_t k, const float* x, size_t ld, bool accumulate, float* g) {
  cblas_ssyrk(CblasColMajor, CblasUpper, trans ? CblasTrans : CblasNoTrans, static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, x,
              static_cast<blasint>(ld), accumulate ? 1.0f : 0.0f, g, static_cast<blasint>(n));
}
lapack_int syevd(size_t n, bool twoStage, double* g, double* w) {
  const auto ni = static_cast<lapack_int>(n);
  return twoStage ? LAPACKE_dsyevd_2stage(LAPACK_COL_MAJOR, 'N', 'U', ni, g, ni, w) : LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', ni, g, ni, w);
}
lapack_int syevd(size_t n, bool twoStage, float* g, float* w) {
  const auto ni = static_cast<lapack_int>(n);
  return twoStage ? LAPACKE_ssyevd_2stage(LAPACK_COL_MAJOR, 'N', 'U', ni, g, ni, w) : LAPACKE_ssyevd(LAPACK_COL_MAJOR, 'N', 'U', ni, g, ni, w);
}

// Per-precision LAPACK entry points of the split two-stage solver.
struct Lapack64 {
  static constexpr const char* kName = "DSYTRD_2STAGE";
  static void sy2sb(const lapack_int* n, const lapack_int* kd, double* a, double* ab, const lapack_int* ldab, double* tau, double* work,
                    const lapack_int* lwork, lapack_int* info) {
    dsytrd_sy2sb_("U", n, kd, a, n, ab, ldab, tau, work, lwork, info, 1);
  }
  static void sb2st(const lapack_int* n, const lapack_int* kd, double* ab, const lapack_int* ldab, double* d, double* e, double* hous,
                    const lapack_int* lhous, double* work, const lapack_int* lwork, lapack_int* info) {
    dsytrd_sb2st_("Y", "N", "U", n, kd, ab, ldab, d, e, hous, lhous, work, lwork, info, 1, 1, 1);
  }
  static lapack_int sterf(lapack_int n, double* d, double* e) { return LAPACKE_dsterf(n, d, e); }
  static double lansyMax(lapack_int n, const double* a) { return LAPACKE_dlansy(LAPACK_COL_MAJOR, 'M', 'U', n, a, n); }
  static lapack_int lascl(lapack_int n, double cfrom, double cto, double* a) {
    return LAPACKE_dlascl(LAPACK_COL_MAJOR, 'U', 0, 0, cfrom, cto, n, n, a, n);
  }
  static double lamch(char c) { return LAPACKE_dlamch(c); }
};
struct Lapack32 {
  static constexpr const char* kName = "SSYTRD_2STAGE";
  static void sy2sb(const lapack_int* n, const lapack_int* kd, float* a, float* ab, const lapack_int* ldab, float* tau, float* work,
                    const lapack_int* lwork, lapack_int* info) {
    ssytrd_sy2sb_("U", n, kd, a, n, ab, ldab, tau, work, lwork, info, 1);
  }
  static void sb2st(const lapack_int* n, const lapack_int* kd, float* ab, const lapack_int* ldab, float* d, float* e, float* hous,
                    const lapack_int* lhous, float* work, const lapack_int* lwork, lapack_int* info) {
    ssytrd_sb2st_("Y", "N", "U", n, kd, ab, ldab, d, e, hous, lhous, work, lwork, info, 1, 1, 1);
  }
  static lapack_int sterf(lapack_int n, float* d, float* e) { return LAPACKE_ssterf(n, d, e); }
  static float lansyMax(lapack_int n, const float* a) { return LAPACKE_slansy(LAPACK_COL_MAJOR, 'M', 'U', n, a, n); }
  static lapack_int lascl(lapack_int n, float cfrom, float cto, float* a) {
    return LAPACKE_slascl(LAPACK_COL_MAJOR, 'U', 0, 0, cfrom, cto, n, n, a, n);
  }
  static float lamch(char c) { return LAPACKE_slamch(c); }
};

constexpr lapack_int kAllocFailed = -1000;

// Restores the process's OpenBLAS thread count when the band stage is done (or fails).
class SerialSection {
 public:
  explicit SerialSection(int restore) : restore_(restore) { setBlasThreads(1); }
  ~SerialSection() { setBlasThreads(restore_); }
  SerialSection(const SerialSection&) = delete;
  SerialSection& operator=(const SerialSection&) = delete;

 private:
  int restore_;
};

// ?syevd_2stage (values only, upper triangle) as LAPACK 3.11 writes it — the same scaling, the same
// two reductions with the same block sizes, then ?sterf — except that the band → tridiagonal stage
// and ?sterf run on one OpenBLAS thread, then the count goes back to `threads`. That stage is a
// sequence of tiny Householder updates: on one thread it takes 0.38 s at n = 4096, on two 0.6–1.7 s
// (their hand-offs cost more than they share). On one thread this is ?syevd_2stage bit for bit.
template <typename Work, typename L>
lapack_int syevdTwoStageSplit(size_t n, Work* g, Work* w, int threads) {
  const auto ni = static_cast<lapack_int>(n);
  if (n == 0) return 0;
  if (n == 1) {
    w[0] = g[0];
    return 0;
  }
  const lapack_int one = 1, two = 2, three = 3, four = 4, none = -1;
  const size_t nameLen = std::char_traits<char>::length(L::kName);
  const lapack_int kd = ilaenv2stage_(&one, L::kName, "N", &ni, &none, &none, &none, nameLen, 1);
  const lapack_int ib = ilaenv2stage_(&two, L::kName, "N", &ni, &kd, &none, &none, nameLen, 1);
  const lapack_int lhous = ilaenv2stage_(&three, L::kName, "N", &ni, &kd, &ib, &none, nameLen, 1);
  const lapack_int lwork = ilaenv2stage_(&four, L::kName, "N", &ni, &kd, &ib, &none, nameLen, 1);
  const lapack_int ldab = kd + 1;
  const size_t abSize = static_cast<size_t>(ldab) * n;
  if (kd < 1 || lhous < 1 || static_cast<size_t>(lwork) < abSize) return -1;
  const lapack_int lwrk = lwork - static_cast<lapack_int>(abSize);
  std::unique_ptr<Work[]> work, e, tau, hous;
  try {
    work.reset(new Work[static_cast<size_t>(lwork)]);
    e.reset(new Work[n]);
    tau.reset(new Work[n]);
    hous.reset(new Work[static_cast<size_t>(lhous)]);
  } catch (const std::bad_alloc&) {
    return kAllocFailed;
  }
  // Scale into the safe range as ?syevd_2stage does.
  const Work smlnum = L::lamch('S') / L::lamch('P');
  const Work rmin = std::sqrt(smlnum), rmax = std::sqrt(Work(1) / smlnum);
  const Work anrm = L::lansyMax(ni, g);
  Work sigma = 1;
  if (anrm > 0 && anrm < rmin) sigma = rmin / anrm;
  else if (anrm > rmax)
    sigma = rmax / anrm;
  if (sigma != 1 && L::lascl(ni, Work(1), sigma, g) != 0) return -1;
  lapack_int info = 0;
  L::sy2sb(&ni, &kd, g, work.get(), &ldab, tau.get(), work.get() + abSize, &lwrk, &info);
  if (info != 0) return info;
  {
    SerialSection serial(threads);
    L::sb2st(&ni, &kd, work.get(), &ldab, w, e.get(), hous.get(), &lhous, work.get() + abSize, &lwrk, &info);
    if (info != 0) return info;
    info = L::sterf(ni, w, e.get());
  }
  if (info == 0 && sigma != 1)
    for (size_t i = 0; i < n; ++i) w[i] /= sigma;
  return info;
}
lapack_int eigenvalues(size_t n, GramSolver solver, int threads, double* g, double* w) {
  if (solver == GramSolver::TwoStageSplit) return syevdTwoStageSplit<double, Lapack64>(n, g, w, threads);
  return syevd(n, solver == GramSolver::TwoStage, g, w);
}
lapack_int eigenvalues(size_t n, GramSolver solver, int threads, float* g, float* w) {
  if (solver == GramSolver::TwoStageSplit) return syevdTwoStageSplit<float, Lapack32>(n, g, w, threads);
  return syevd(n, solver == GramSolver::TwoStage, g, w);
}

}  // namespace

template <typename Work>
Status gramEigenvalues(const MatrixView& w, GramSolver solver, int threads, std::vector<double>& out, double& sumOfSquares) {
  Status st = checkDims(w.rows, w.cols);
  if (!st.isOk()) return st;
  if (w.data == nullptr) return Status::error(Code::Empty, "no matrix data");
  const bool tall = w.rows >= w.cols;
  const size_t n = tall ? w.cols : w.rows;  // Gram order
  const size_t m = tall ? w.rows : w.cols;  // summed dimension
  const size_t chunk = std::min(m, std::max<size_t>(256, kChunkBytes / (sizeof(Work) * n)));
  std::unique_ptr<Work[]> g, x, ev;
  try {
    g.reset(new Work[n * n]);
    x.reset(new Work[chunk * n]);
    ev.reset(new Work[n]);
  } catch (const std::bad_alloc&) {
    return Status::error(Code::Alloc, "out of memory allocating the " + std::to_string(n) + "x" + std::to_string(n) + " Gram matrix");
  }
  SumOfSquares squares;
  for (size_t k0 = 0; k0 < m; k0 += chunk) {
    const size_t k1 = std::min(m, k0 + chunk);
    if (tall) {
      // rows k0..k1 of W, row-major (k×n) = column-major n×k: G += X·Xᵀ = Σ rowsᵀ·rows
      if (!convertBlock(w, k0, k1, 0, n, x.get(), squares)) return nonFiniteError<Work>(w);
      syrk(false, n, k1 - k0, x.get(), n, k0 > 0, g.get());
    } else {
      // columns k0..k1 of W, gathered row-major (n×k) = column-major k×n: G += Xᵀ·X = Σ cols·colsᵀ
      if (!convertBlock(w, 0, n, k0, k1, x.get(), squares)) return nonFiniteError<Work>(w);
      syrk(true, n, k1 - k0, x.get(), k1 - k0, k0 > 0, g.get());
    }
  }
  x.reset();
  sumOfSquares = squares.value();
  const lapack_int info = eigenvalues(n, solver, threads, g.get(), ev.get());
  if (info == kAllocFailed) return Status::error(Code::Alloc, "out of memory allocating the two-stage eigensolver's workspace");
  if (info != 0) {
    return Status::error(Code::Lapack, std::string(sizeof(Work) == 8 ? "dsyevd" : "ssyevd") + " failed with info=" + std::to_string(info) +
                                           (info > 0 ? " (the algorithm did not converge)" : " (illegal argument)"));
  }
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(ev[i]);  // ascending from LAPACK
    if (!std::isfinite(v)) return Status::error(Code::Lapack, "the Gram matrix overflowed (entries too large for squaring)");
    out[i] = std::max(0.0, v);
  }
  return Status::ok();
}

template Status gramEigenvalues<double>(const MatrixView&, GramSolver, int, std::vector<double>&, double&);
template Status gramEigenvalues<float>(const MatrixView&, GramSolver, int, std::vector<double>&, double&);

// The rule (docs/performance.md, "The eigensolver by threads"; bench/svdvals-numpy.bench.ts
// --solvers, 2-core AVX-512 EPYC, OpenBLAS 0.3.21 / LAPACK 3.11): the two-stage reduction streams
// the Gram matrix far fewer times, but its band → tridiagonal stage is sequential (and slower with
// more OpenBLAS threads), while the one-stage ?sytrd's BLAS-2 half scales with the threads until
// memory bandwidth binds. Measured 2-stage / 1-stage, quiet machine: one thread 1.14 (2048), 0.84
// (3072), 0.79 (4096), 0.54 (6144); two threads 1.60 (2048), 1.18 (3072), 0.90–0.97 (4096: a tie;
// issue 23 measured 1.15 there on a Zen 3), 0.57 (6144). With the band stage on one thread (split;
// only when the call owns every BLAS thread of the process) two threads give 2.0–2.4 (2048), 0.96
// (3072), 0.75–0.78 (4096), 0.63 (6144) of the one-stage time. More than two threads were not
// measured and use the two-thread thresholds.
constexpr size_t kTwoStageOrderMultiThread = 6144;
constexpr size_t kSplitOrderMultiThread = 4096;
GramSolver gramSolverFor(size_t n, int threads, bool exclusive) {
  if (threads <= 1) return n >= kTwoStageOrder ? GramSolver::TwoStage : GramSolver::OneStage;
  if (exclusive) return n >= kSplitOrderMultiThread ? GramSolver::TwoStageSplit : GramSolver::OneStage;
  return n >= kTwoStageOrderMultiThread ? GramSolver::TwoStage : GramSolver::OneStage;
}
const char* gramSolverName(GramSolver s) {
  switch (s) {
    case GramSolver::OneStage: return "syevd";
    case GramSolver::TwoStage: return "syevd_2stage";
    case GramSolver::TwoStageSplit: return "syevd_2stage_split";
  }
  return "unknown";
}

double gramErrorBound(size_t /*m*/, size_t n, double lambdaMax, double eps) {
  return kGramErrorC * std::sqrt(static_cast<double>(n)) * eps * lambdaMax;
}

}  // namespace ww
