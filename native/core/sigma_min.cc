#include "core/sigma_min.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace ww {
namespace {

constexpr size_t kMinBlock = 8;
constexpr size_t kMaxBlock = 64;
constexpr double kGapRatio = 0.25;  // (σ₁/σ_{b+1})² ≤ ¼: the Ritz value's error shrinks ≥ 16× per step
constexpr int kMaxIterations = 40;
constexpr double kTolerance = 1e-15;  // estimated relative error of 1/σmin at which to stop

// Smallest b (kMinBlock ≤ b ≤ kMaxBlock, b < n) whose next eigenvalue is well separated from λ₁,
// or 0. Solves with a block of up to ~16 vectors cost about as much as with one (they stream the
// factor from memory once either way) and a wider block usually has a far larger gap.
size_t chooseBlock(const std::vector<double>& ev, double delta) {
  const double hi1 = ev[0] + delta;
  for (size_t b = std::min(kMinBlock, ev.size() - 1); b < ev.size() && b <= kMaxBlock; ++b) {
    const double lo = ev[b] - delta;
    if (lo > 0 && hi1 <= kGapRatio * lo) return b;
  }
  return 0;
}

// Orthonormal basis of the n×b block in place (Householder QR + explicit Q).
bool orthonormalize(std::vector<double>& x, size_t n, size_t b, std::vector<double>& tau) {
  const auto ni = static_cast<lapack_int>(n), bi = static_cast<lapack_int>(b);
  if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, ni, bi, x.data(), ni, tau.data()) != 0) return false;
  return LAPACKE_dorgqr(LAPACK_COL_MAJOR, ni, bi, bi, x.data(), ni, tau.data()) == 0;
}

// The operator B = A⁻¹ (square, through its LU factors) or R⁻¹ (tall, through its QR factor R,
// which has the singular values of A), applied to an n×b block in place.
struct InverseOperator {
  const double* f;  // factors, leading dimension lda
  size_t lda, n;
  const lapack_int* ipiv;  // null for QR
  bool apply(std::vector<double>& y, size_t b, bool transpose) const {
    const auto ni = static_cast<lapack_int>(n);
    if (ipiv)
      return LAPACKE_dgetrs(LAPACK_COL_MAJOR, transpose ? 'T' : 'N', ni, static_cast<lapack_int>(b), f, static_cast<lapack_int>(lda), ipiv, y.data(),
                            ni) == 0;
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasUpper, transpose ? CblasTrans : CblasNoTrans, CblasNonUnit, static_cast<blasint>(n),
                static_cast<blasint>(b), 1.0, f, static_cast<blasint>(lda), y.data(), static_cast<blasint>(n));
    return true;
  }
};

// Largest singular value of the n×b block (values only; the block is small).
bool largestSingularValue(const std::vector<double>& y, size_t n, size_t b, std::vector<double>& scratch, std::vector<double>& s, double& out) {
  scratch = y;
  if (LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', static_cast<lapack_int>(n), static_cast<lapack_int>(b), scratch.data(), static_cast<lapack_int>(n),
                     s.data(), nullptr, 1, nullptr, 1) != 0)
    return false;
  out = s[0];
  return std::isfinite(out) && out > 0;
}

}  // namespace

Status smallestSingularValue(double* a, size_t m, size_t n, const std::vector<double>& gramEvals, double delta, SigmaMinResult& out) {
  out = SigmaMinResult{};
  if (n < 2 || m < n || gramEvals.size() != n) return Status::ok();
  const size_t b = chooseBlock(gramEvals, delta);
  if (b == 0) return Status::ok();
  out.blockSize = static_cast<int>(b);
  // Convergence factor of the Ritz value per step, from the same eigenvalue bounds.
  const double g2 = (gramEvals[0] + delta) / (gramEvals[b] - delta);
  const double rho = g2 * g2;

  std::vector<lapack_int> ipiv;
  std::vector<double> tau, x, scratch, s(b);
  InverseOperator op{a, m, n, nullptr};
  const auto mi = static_cast<lapack_int>(m), ni = static_cast<lapack_int>(n);
  if (m == n) {
    out.factorization = "lu";
    ipiv.resize(n);
    if (LAPACKE_dgetrf(LAPACK_COL_MAJOR, ni, ni, a, mi, ipiv.data()) != 0) return Status::ok();  // exactly singular U
    op.ipiv = ipiv.data();
  } else {
    out.factorization = "qr";
    tau.resize(n);
    if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, mi, ni, a, mi, tau.data()) != 0) return Status::ok();
    for (size_t j = 0; j < n; ++j)
      if (a[j * m + j] == 0.0) return Status::ok();
  }
  // Deterministic start: the same matrix always gives the same bits.
  std::mt19937_64 gen(0x5eed5eedULL);
  std::normal_distribution<double> normal;
  x.resize(n * b);
  for (double& v : x) v = normal(gen);
  tau.resize(std::max(tau.size(), b));
  if (!orthonormalize(x, n, b, tau)) return Status::ok();

  double prev = 0;
  for (int it = 1; it <= kMaxIterations; ++it) {
    std::vector<double> y = x;
    if (!op.apply(y, b, false)) return Status::ok();
    double est = 0;
    if (!largestSingularValue(y, n, b, scratch, s, est)) return Status::ok();
    out.iterations = it;
    const double change = (est - prev) / est;
    if (it >= 2 && std::fabs(change) * rho / (1 - rho) <= kTolerance) {
      out.sigma = 1.0 / est;
      out.converged = std::isfinite(out.sigma) && out.sigma > 0;
      return Status::ok();
    }
    prev = est;
    if (!op.apply(y, b, true)) return Status::ok();
    x.swap(y);
    if (!orthonormalize(x, n, b, tau)) return Status::ok();
  }
  return Status::ok();  // not converged
}

}  // namespace ww
