// The reference's `pl_package='powerlaw'` fitter: a port of the parts of the `powerlaw` Python
// package (version 1.5) that WeightWatcher 0.7.5.5 uses (R20, R21, R22), plus the numerical
// building blocks it needs — scipy's Nelder–Mead (`fmin` defaults, R24) and the upper
// incomplete gamma function for negative first arguments (mpmath's `gammainc`, R21).
//
// powerlaw 1.5 semantics reproduced here:
//   * xmin candidates are the unique data values (optionally restricted to a range), without the
//     largest one; every candidate is fitted on all data >= xmin (and <= xmax);
//   * power law without xmax: closed-form MLE; with xmax: Nelder–Mead on the xmax-free likelihood,
//     KS with the xmax-truncated CDF;
//   * truncated power law: Nelder–Mead on (alpha, Lambda) at every candidate;
//   * KS distance on the unique values of the fitting data, empirical CDF renormalised at xmin;
//   * candidate choice: argmin D among the in-range fits (all when none or all are in range).
#pragma once
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "core/status.h"

namespace ww {

// Upper incomplete gamma Γ(s, x) = ∫_x^∞ t^(s−1) e^(−t) dt for any real s and x > 0, computed in
// extended precision and rounded to double (≈ mpmath.gammainc(s, x) to the last bit or two).
double upperIncompleteGamma(double s, double x);

// scipy.optimize.fmin with its defaults (xtol = ftol = 1e-4, 200·N iterations and evaluations,
// initial simplex x0 plus x0 with one coordinate scaled by 1.05), step for step — including the
// stable vertex sort and the abort when the evaluation budget runs out mid-iteration.
template <size_t N>
struct NelderMeadResult {
  std::array<double, N> x{};
  double fval = 0;
  int iterations = 0;
  int fcalls = 0;
  int warnflag = 0;  // 1: evaluation budget exhausted, 2: iteration budget exhausted
};

namespace detail {
struct MaxFunCalls {};
// numpy's argsort for <= 16 elements is an insertion sort (stable), NaN sorted last.
inline bool npLess(double a, double b) { return a < b || (b != b && a == a); }
}  // namespace detail

// Objective: double(const std::array<double, N>&).
template <size_t N, typename F>
NelderMeadResult<N> nelderMead(F&& f, const std::array<double, N>& x0, double xatol = 1e-4, double fatol = 1e-4) {
  using Vec = std::array<double, N>;
  constexpr double rho = 1, chi = 2, psi = 0.5, sigma = 0.5, nonzdelt = 0.05, zdelt = 0.00025;
  const int maxiter = static_cast<int>(N) * 200, maxfun = static_cast<int>(N) * 200;
  std::array<Vec, N + 1> sim;
  std::array<double, N + 1> fsim;
  sim[0] = x0;
  for (size_t k = 0; k < N; ++k) {
    Vec y = x0;
    y[k] = y[k] != 0 ? (1 + nonzdelt) * y[k] : zdelt;
    sim[k + 1] = y;
  }
  fsim.fill(std::numeric_limits<double>::infinity());
  int fcalls = 0;
  auto call = [&](const Vec& x) -> double {
    if (fcalls >= maxfun) throw detail::MaxFunCalls{};
    ++fcalls;
    return f(x);
  };
  auto sortSimplex = [&]() {
    std::array<size_t, N + 1> ind;
    for (size_t i = 0; i <= N; ++i) ind[i] = i;
    for (size_t i = 1; i <= N; ++i) {
      const size_t vi = ind[i];
      size_t j = i;
      while (j > 0 && detail::npLess(fsim[vi], fsim[ind[j - 1]])) {
        ind[j] = ind[j - 1];
        --j;
      }
      ind[j] = vi;
    }
    const auto s0 = sim;
    const auto f0 = fsim;
    for (size_t i = 0; i <= N; ++i) {
      sim[i] = s0[ind[i]];
      fsim[i] = f0[ind[i]];
    }
  };
  try {
    for (size_t k = 0; k <= N; ++k) fsim[k] = call(sim[k]);
  } catch (const detail::MaxFunCalls&) {
  }
  sortSimplex();
  int iterations = 1;
  while (fcalls < maxfun && iterations < maxiter) {
    bool stop = false;
    try {
      double dx = -std::numeric_limits<double>::infinity(), df = -std::numeric_limits<double>::infinity();
      bool nanx = false, nanf = false;
      for (size_t i = 1; i <= N; ++i) {
        for (size_t k = 0; k < N; ++k) {
          const double d = std::abs(sim[i][k] - sim[0][k]);
          if (d != d) nanx = true;
          else if (d > dx)
            dx = d;
        }
        const double d = std::abs(fsim[0] - fsim[i]);
        if (d != d) nanf = true;
        else if (d > df)
          df = d;
      }
      if (!nanx && !nanf && dx <= xatol && df <= fatol) {
        stop = true;
      } else {
        Vec xbar;
        for (size_t k = 0; k < N; ++k) {
          double s = 0;
          for (size_t i = 0; i < N; ++i) s += sim[i][k];
          xbar[k] = s / static_cast<double>(N);
        }
        Vec xr;
        for (size_t k = 0; k < N; ++k) xr[k] = (1 + rho) * xbar[k] - rho * sim[N][k];
        const double fxr = call(xr);
        bool doshrink = false;
        if (fxr < fsim[0]) {
          Vec xe;
          for (size_t k = 0; k < N; ++k) xe[k] = (1 + rho * chi) * xbar[k] - rho * chi * sim[N][k];
          const double fxe = call(xe);
          if (fxe < fxr) {
            sim[N] = xe;
            fsim[N] = fxe;
          } else {
            sim[N] = xr;
            fsim[N] = fxr;
          }
        } else if (fxr < fsim[N - 1]) {
          sim[N] = xr;
          fsim[N] = fxr;
        } else {
          if (fxr < fsim[N]) {
            Vec xc;
            for (size_t k = 0; k < N; ++k) xc[k] = (1 + psi * rho) * xbar[k] - psi * rho * sim[N][k];
            const double fxc = call(xc);
            if (fxc <= fxr) {
              sim[N] = xc;
              fsim[N] = fxc;
            } else {
              doshrink = true;
            }
          } else {
            Vec xcc;
            for (size_t k = 0; k < N; ++k) xcc[k] = (1 - psi) * xbar[k] + psi * sim[N][k];
            const double fxcc = call(xcc);
            if (fxcc < fsim[N]) {
              sim[N] = xcc;
              fsim[N] = fxcc;
            } else {
              doshrink = true;
            }
          }
          if (doshrink) {
            for (size_t j = 1; j <= N; ++j) {
              for (size_t k = 0; k < N; ++k) sim[j][k] = sim[0][k] + sigma * (sim[j][k] - sim[0][k]);
              fsim[j] = call(sim[j]);
            }
          }
        }
        ++iterations;
      }
    } catch (const detail::MaxFunCalls&) {
      stop = true;
    }
    sortSimplex();
    if (stop) break;
  }
  NelderMeadResult<N> r;
  r.x = sim[0];
  double m = fsim[0];  // np.min: NaN if any value is NaN
  for (size_t i = 1; i <= N; ++i) {
    if (m != m) break;
    if (fsim[i] != fsim[i] || fsim[i] < m) m = fsim[i];
  }
  r.fval = m;
  r.iterations = iterations;
  r.fcalls = fcalls;
  r.warnflag = fcalls >= maxfun ? 1 : (iterations >= maxiter ? 2 : 0);
  return r;
}

struct PlPackageOptions {
  bool truncated = false;  // xmin_distribution = truncated_power_law (fit='TPL'/'E_TPL')
  bool hasXmax = false;    // xmax given (xmax='force' or a clip_xmax step): data > xmax are dropped
  double xmax = 0;
  bool hasXminRange = false;  // only candidates in [min(lo,hi), max(lo,hi)]
  double xminLo = 0, xminHi = 0;
  bool keepArrays = false;
};

struct PlPackageFit {
  // NaN alpha: fewer than 2 unique values (the reference then reports a failed fit).
  double alpha = 0, xmin = 0, D = 0, sigma = 0, Lambda = 0;
  size_t tailCount = 0;    // number of fitted values >= xmin (<= xmax)
  size_t candidates = 0;   // number of xmin candidates tried
  bool inRange = false;    // the chosen fit's parameters are valid (alpha > 1, Lambda > 0)
  bool noiseFlag = false;  // powerlaw's flag: no candidate was in range
  std::vector<double> xmins, alphas, Ds, sigmas, Lambdas;
};

Status fitPowerLawPackage(const double* data, size_t n, const PlPackageOptions& opts, PlPackageFit& out);

// fix_fingers='xmin_peak' (R22): from the thresholded evals (any order), the ESD peak of a
// 100-bin histogram of log10 values (numpy semantics) and the reference's candidate range
// (log10(0.95·peak), xmin_max or 1.5·peak) — the lower bound is a log value (Q23).
Status xminPeakRange(const double* nz, size_t n, bool hasXminMax, double xminMax, double& lo, double& hi, double& peak);

}  // namespace ww
