#include "core/powerlaw.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace ww {

double numpySum(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return numpySum(a, n2) + numpySum(a + n2, n - n2);
}

namespace {

size_t closestIndex(const std::vector<double>& x, double v) {
  size_t best = 0;
  double bestDist = std::abs(x[0] - v);
  for (size_t i = 1; i < x.size(); ++i) {
    const double d = std::abs(x[i] - v);
    if (d < bestDist) {  // strict: numpy argmin keeps the first minimum
      bestDist = d;
      best = i;
    }
  }
  return best;
}

// KS distance of candidate i: max_k |1 - (x_{i+k}/x_i)^(1-alpha) - k/n|, in the reference's
// operation order. Stops early (returning a value > bound) once the running max exceeds `bound`,
// which cannot change the argmin; bound = +inf computes it fully. NaN propagates like np.max.
double ksDistance(const double* x, size_t n, double alpha, double bound) {
  const double xmin = x[0];
  const double expo = -alpha + 1;
  const double nd = static_cast<double>(n);
  double dmax = -std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < n; ++k) {
    const double v = std::abs(1 - std::pow(x[k] / xmin, expo) - static_cast<double>(k) / nd);
    if (std::isnan(v)) return v;
    if (v > dmax) {
      dmax = v;
      if (dmax > bound) return dmax;
    }
  }
  return dmax;
}

}  // namespace

Status fitPowerLaw(const double* data, size_t count, const PowerLawOptions& opts, PowerLawFit& out) {
  std::vector<double> x(data, data + count);
  for (double v : x) {
    if (std::isnan(v)) return Status::error(Code::NonFinite, "power-law fit input contains NaN");
  }
  if (x.empty()) return Status::error(Code::Empty, "power-law fit needs at least 2 values, got 0");
  std::sort(x.begin(), x.end());
  const size_t iMin = opts.hasXmin ? closestIndex(x, opts.xmin) : 0;
  const size_t iMax = opts.hasXmax ? closestIndex(x, opts.xmax) : x.size() - 1;
  if (iMax < iMin) return Status::error(Code::Fit, "power-law fit: xmax lies below xmin");
  x = std::vector<double>(x.begin() + static_cast<std::ptrdiff_t>(iMin), x.begin() + static_cast<std::ptrdiff_t>(iMax) + 1);
  const size_t N = x.size();
  if (N < 2) return Status::error(Code::Fit, "power-law fit needs at least 2 values, got " + std::to_string(N));

  const size_t C = N - 1;  // every value but the largest is a candidate xmin
  std::vector<double> logx(N), alphas(C), Ds(C, 1.0);
  for (size_t i = 0; i < N; ++i) logx[i] = std::log(x[i]);
  for (size_t i = 0; i < C; ++i) {
    const double n = static_cast<double>(N - i);
    alphas[i] = 1 + n / (numpySum(logx.data() + i, N - i) - n * logx[i]);
  }

  // Pass 1: an upper bound on min D from ~64 evenly spaced candidates. Pass 2: every candidate,
  // abandoning the KS max as soon as it exceeds the bound. Identical result to the full scan.
  double bound = std::numeric_limits<double>::infinity();
  std::vector<char> exact(C, 0);
  if (!opts.keepArrays && C > 128) {
    const size_t step = C / 64;
    for (size_t i = 0; i < C; i += step) {
      if (alphas[i] > 1) {
        Ds[i] = ksDistance(x.data() + i, N - i, alphas[i], std::numeric_limits<double>::infinity());
        if (Ds[i] < bound) bound = Ds[i];
      } else if (Ds[i] < bound) {
        bound = Ds[i];
      }
      exact[i] = 1;
    }
  }
  for (size_t i = 0; i < C; ++i) {
    if (exact[i] || !(alphas[i] > 1)) continue;
    Ds[i] = ksDistance(x.data() + i, N - i, alphas[i], bound);
    if (Ds[i] < bound) bound = Ds[i];
  }

  // numpy argmin: the first NaN if there is one, else the first minimum.
  size_t best = 0;
  bool foundNaN = false;
  for (size_t i = 0; i < C; ++i) {
    if (std::isnan(Ds[i])) {
      best = i;
      foundNaN = true;
      break;
    }
  }
  if (!foundNaN) {
    for (size_t i = 1; i < C; ++i)
      if (Ds[i] < Ds[best]) best = i;
  }

  out.alpha = alphas[best];
  out.xmin = x[best];
  out.xmax = x[N - 1];
  out.D = Ds[best];
  out.sigma = (alphas[best] - 1) / std::sqrt(static_cast<double>(N - best));
  out.bestIndex = best;
  out.candidates = C;
  out.tailCount = N - best;
  if (opts.keepArrays) {
    out.xmins.assign(x.begin(), x.end() - 1);
    out.sigmas.resize(C);
    for (size_t i = 0; i < C; ++i) out.sigmas[i] = (alphas[i] - 1) / std::sqrt(static_cast<double>(N - i));
    out.alphas = std::move(alphas);
    out.Ds = std::move(Ds);
  }
  return Status::ok();
}

}  // namespace ww
