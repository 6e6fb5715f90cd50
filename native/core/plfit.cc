#include "core/plfit.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <string>

#include "core/powerlaw.h"  // numpySum

namespace ww {
namespace {

using LD = long double;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// powerlaw replaces zero likelihoods (and all likelihoods of out-of-range parameters) by
// 10**sys.float_info.min_10_exp.
constexpr double kTiny = 1e-307;

constexpr LD kEuler = 0.57721566490153286060651209008240243104215933593992L;

// zeta(2) .. zeta(40)
constexpr LD kZeta[] = {
    1.644934066848226436472415L, 1.202056903159594285399738L, 1.082323233711138191516004L, 1.036927755143369926331365L, 1.017343061984449139714518L,
    1.008349277381922826839798L, 1.004077356197944339378685L, 1.002008392826082214417853L, 1.000994575127818085337146L, 1.000494188604119464558702L,
    1.000246086553308048298638L, 1.000122713347578489146752L, 1.000061248135058704829259L, 1.000030588236307020493552L, 1.000015282259408651871733L,
    1.000007637197637899762274L, 1.000003817293264999839856L, 1.000001908212716553938926L, 1.000000953962033872796113L, 1.000000476932986787806463L,
    1.00000023845050272773299L,  1.000000119219925965311073L, 1.00000005960818905125948L,  1.00000002980350351465228L,  1.000000014901554828365041L,
    1.000000007450711789835429L, 1.000000003725334024788457L, 1.000000001862659723513049L, 1.000000000931327432419668L, 1.000000000465662906503378L,
    1.000000000232831183367651L, 1.000000000116415501727005L, 1.000000000058207720879027L, 1.000000000029103850444971L, 1.000000000014551921891042L,
    1.000000000007275959835057L, 1.000000000003637979547379L, 1.000000000001818989650307L, 1.000000000000909494784026L};

LD zeta(int k) {
  if (k - 2 < static_cast<int>(sizeof(kZeta) / sizeof(kZeta[0]))) return kZeta[k - 2];
  return 1 + powl(2, -k) + powl(3, -k) + powl(4, -k) + powl(5, -k);
}

// (Γ(1+σ) − 1)/σ for σ in (−1, 1), without cancellation for small |σ|:
// ln Γ(1+σ) = −γσ + Σ_{k≥2} (−1)^k ζ(k) σ^k / k.
LD gammaOnePlusMinusOneOverSigma(LD s) {
  if (s == 0) return -kEuler;
  if (fabsl(s) > 0.5L) return (tgammal(1 + s) - 1) / s;
  LD sum = 0, p = s;
  for (int k = 2; k < 200; ++k) {
    p *= s;
    const LD term = zeta(k) * p / k;
    sum += (k % 2 == 0) ? term : -term;
    if (fabsl(term) <= LDBL_EPSILON * 1e-3L * fabsl(sum)) break;
  }
  const LD L = -kEuler * s + sum;
  return expm1l(L) / s;
}

// Γ(σ, x) for σ in (−1, 1) and 0 < x < 1: Γ(σ) − γ(σ, x) rearranged as
// (Γ(1+σ) − x^σ)/σ − x^σ Σ_{k≥1} (−x)^k / (k! (σ+k)).
LD upperGammaFrac(LD s, LD x) {
  const LD lx = logl(x);
  const LD A = gammaOnePlusMinusOneOverSigma(s);
  const LD B = s == 0 ? lx : expm1l(s * lx) / s;
  LD t = 1, sum = 0;
  for (int k = 1; k < 1000; ++k) {
    t *= -x / k;
    const LD term = t / (s + k);
    sum += term;
    if (fabsl(term) <= LDBL_EPSILON * 1e-3L * fabsl(sum)) break;
  }
  return (A - B) - expl(s * lx) * sum;
}

// Legendre continued fraction (modified Lentz), valid for any s and x > 0; used for x >= 1.
LD upperGammaCF(LD s, LD x) {
  const LD fpmin = LDBL_MIN / LDBL_EPSILON;
  LD b = x + 1 - s, c = 1 / fpmin, d = 1 / b, h = d;
  for (int i = 1; i < 100000; ++i) {
    const LD an = -static_cast<LD>(i) * (static_cast<LD>(i) - s);
    b += 2;
    d = an * d + b;
    if (fabsl(d) < fpmin) d = fpmin;
    c = b + an / c;
    if (fabsl(c) < fpmin) c = fpmin;
    d = 1 / d;
    const LD del = d * c;
    h *= del;
    if (fabsl(del - 1) <= LDBL_EPSILON) break;
  }
  return expl(-x + s * logl(x)) * h;
}

}  // namespace

double upperIncompleteGamma(double sd, double xd) {
  if (std::isnan(sd) || std::isnan(xd)) return kNaN;
  if (xd < 0) return kNaN;
  const LD s = sd, x = xd;
  if (x == 0) return sd > 0 ? std::tgamma(sd) : kInf;
  if (std::isinf(xd)) return 0;
  if (x >= 1) return static_cast<double>(upperGammaCF(s, x));
  // x < 1: Γ(σ, x) directly for σ near s, then the three-term recurrence. Downward steps start
  // from the nearest integer's offset (σ in [−0.5, 0.5]) so that no step divides by a small
  // a − 1 (stepping through a ≈ 0 from above cancels catastrophically); upward steps (s ≥ 0.5)
  // add positive terms only and start from σ in [0, 1).
  const LD lx = logl(x);
  if (s < 0.5L) {
    const LD r = roundl(s);
    const LD sigma = s - r;
    LD g = upperGammaFrac(sigma, x);
    const long steps = static_cast<long>(-r);
    LD a = sigma;
    for (long j = 0; j < steps; ++j) {
      // Γ(a−1, x) = (Γ(a, x) − x^(a−1) e^(−x)) / (a−1)
      g = (g - expl((a - 1) * lx - x)) / (a - 1);
      a -= 1;
    }
    return static_cast<double>(g);
  }
  const LD fl = floorl(s);
  const LD sigma = s - fl;
  LD g = upperGammaFrac(sigma, x);
  const long steps = static_cast<long>(fl);
  LD a = sigma;
  for (long j = 0; j < steps; ++j) {
    // Γ(a+1, x) = a Γ(a, x) + x^a e^(−x)
    g = a * g + expl(a * lx - x);
    a += 1;
  }
  return static_cast<double>(g);
}

namespace {

// The data as powerlaw.Fit prepares it, the fitting CDF on its unique values, and the per-candidate
// fits.
class PackageFit {
 public:
  PackageFit(std::vector<double> data, const PlPackageOptions& o) : x_(std::move(data)), o_(o) {
    const size_t n = x_.size();
    for (size_t i = 0; i < n; ++i) {
      if (i == 0 || x_[i] != x_[i - 1]) {
        bins_.push_back(x_[i]);
        cdf_.push_back(static_cast<double>(i) / static_cast<double>(n));
        firstIndex_.push_back(i);
      }
    }
  }

  const std::vector<double>& bins() const { return bins_; }

  struct Candidate {
    double D, alpha, sigma, Lambda;
    bool inRange;
    size_t tail;
  };

  Candidate fit(size_t binIndex) const {
    const double xmin = bins_[binIndex];
    const double* t = x_.data() + firstIndex_[binIndex];
    const size_t nt = x_.size() - firstIndex_[binIndex];
    Candidate c{};
    c.tail = nt;
    if (o_.truncated) {
      std::vector<double> logs(nt);
      for (size_t i = 0; i < nt; ++i) logs[i] = std::log(t[i] / xmin);
      const double alpha0 = 1 + static_cast<double>(nt) / numpySum(logs.data(), nt);
      const double lambda0 = 1 / (numpySum(t, nt) / static_cast<double>(nt));
      auto nll = [&](const std::array<double, 2>& p) { return tplNegLogLikelihood(t, nt, xmin, p[0], p[1]); };
      const auto r = nelderMead<2>(nll, {alpha0, lambda0});
      c.alpha = r.x[0];
      c.Lambda = r.x[1];
      c.inRange = c.Lambda > 0 && c.alpha > 1;
      c.sigma = kNaN;
      const double s = 1 - c.alpha;
      const double norm0 = std::pow(c.Lambda, s);
      c.D = ks(binIndex, c.inRange, [&](double v) { return 1 - (upperIncompleteGamma(s, c.Lambda * v) / norm0); });
    } else {
      const bool xmax = o_.hasXmax && o_.xmax != 0;
      double alpha = kNaN;
      if (!xmax) {
        std::vector<double> logs(nt);
        for (size_t i = 0; i < nt; ++i) logs[i] = std::log(t[i] / xmin);
        alpha = 1 + (static_cast<double>(nt) / numpySum(logs.data(), nt));
      }
      if (xmax || !(alpha > 1)) {
        std::vector<double> logs(nt);
        for (size_t i = 0; i < nt; ++i) logs[i] = std::log(t[i] / xmin);
        const double alpha0 = 1 + static_cast<double>(nt) / numpySum(logs.data(), nt);
        auto nll = [&](const std::array<double, 1>& p) { return plNegLogLikelihood(t, nt, xmin, p[0]); };
        alpha = nelderMead<1>(nll, {alpha0}).x[0];
      }
      c.alpha = alpha;
      c.Lambda = kNaN;
      c.inRange = alpha > 1;
      c.sigma = (alpha - 1) / std::sqrt(static_cast<double>(nt));
      const double e = -alpha + 1;
      c.D = ks(binIndex, c.inRange, [&](double v) { return 1 - std::pow(v / xmin, e); });
    }
    return c;
  }

 private:
  // −Σ ln pdf as powerlaw's Distribution.fit computes it: likelihoods f·C, zeros replaced by
  // 1e-307, natural log, Python's left-to-right sum; out-of-range parameters give 1e-307 everywhere.
  static double penalty(size_t n) {
    const double l = std::log(kTiny);
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += l;
    return -s;
  }

  static double tplNegLogLikelihood(const double* t, size_t n, double xmin, double alpha, double lambda) {
    if (!(lambda > 0 && alpha > 1)) return penalty(n);
    const double s = 1 - alpha;
    const double C = std::pow(lambda, s) / upperIncompleteGamma(s, lambda * xmin);
    const double nl = -lambda;
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      double lik = std::pow(t[i], -alpha) * std::exp(nl * t[i]) * C;
      if (lik == 0) lik = kTiny;
      sum += std::log(lik);
    }
    return -sum;
  }

  static double plNegLogLikelihood(const double* t, size_t n, double xmin, double alpha) {
    if (!(alpha > 1)) return penalty(n);
    const double C = (alpha - 1) * std::pow(xmin, alpha - 1);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      double lik = std::pow(t[i], -alpha) * C;
      if (lik == 0) lik = kTiny;
      sum += std::log(lik);
    }
    return -sum;
  }

  // Distribution.KS with a parent Fit: empirical CDF at the unique values >= xmin renormalised,
  // theoretical CDF from Distribution.cdf (xmax-normalised when xmax is set).
  template <typename Base>
  double ks(size_t binIndex, bool inRange, Base base) const {
    const double xmin = bins_[binIndex];
    const bool xmax = o_.hasXmax && o_.xmax != 0;
    const double dropped = cdf_[binIndex];
    double cdfXmin = 0, norm = 0;
    bool ones = false;
    if (inRange) {
      cdfXmin = base(xmin);
      if (cdfXmin == 1) {
        ones = true;
      } else {
        norm = 1 - cdfXmin;
        if (xmax) norm = norm - (1 - base(o_.xmax));
      }
    }
    double dmax = -kInf, dmin = kInf;
    bool nan = false;
    for (size_t i = binIndex; i < bins_.size(); ++i) {
      const double actual = (cdf_[i] - dropped) / (1 - dropped);
      double theo;
      if (!inRange) theo = kTiny;
      else if (ones)
        theo = 1;
      else
        theo = (base(bins_[i]) - cdfXmin) / norm;
      const double d = theo - actual;
      if (d != d) nan = true;
      if (d > dmax) dmax = d;
      if (d < dmin) dmin = d;
    }
    if (nan) return kNaN;  // np.max / np.min propagate NaN; max(NaN, x) keeps NaN
    const double dPlus = dmax, dMinus = -1.0 * dmin;
    return dMinus > dPlus ? dMinus : dPlus;
  }

  std::vector<double> x_;
  const PlPackageOptions& o_;
  std::vector<double> bins_, cdf_;
  std::vector<size_t> firstIndex_;
};

}  // namespace

Status fitPowerLawPackage(const double* raw, size_t n, const PlPackageOptions& o, PlPackageFit& out) {
  out = PlPackageFit{};
  bool hasZero = false;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(raw[i])) return Status::error(Code::NonFinite, "power-law data contains NaN");
    if (raw[i] == 0) hasZero = true;
  }
  const bool xmax = o.hasXmax && o.xmax != 0;
  std::vector<double> data;
  data.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const double v = raw[i];
    if (hasZero && !(v > 0)) continue;
    if (xmax && !(v <= o.xmax)) continue;
    data.push_back(v);
  }
  std::sort(data.begin(), data.end());
  PackageFit pf(std::move(data), o);
  const auto& bins = pf.bins();

  std::vector<size_t> cand;
  for (size_t i = 0; i < bins.size(); ++i) {
    if (o.hasXminRange) {
      const double lo = std::min(o.xminLo, o.xminHi), hi = std::max(o.xminLo, o.xminHi);
      if (!(lo <= bins[i] && bins[i] <= hi)) continue;
    }
    cand.push_back(i);
  }
  if (!cand.empty()) cand.pop_back();  // the largest (in-range) unique value is never a candidate
  out.candidates = cand.size();
  if (cand.empty()) {
    out.alpha = out.xmin = out.D = out.sigma = out.Lambda = kNaN;
    out.noiseFlag = true;
    return Status::ok();
  }

  std::vector<PackageFit::Candidate> fits(cand.size());
  for (size_t k = 0; k < cand.size(); ++k) fits[k] = pf.fit(cand[k]);

  bool all = true, any = false;
  for (const auto& f : fits) {
    all = all && f.inRange;
    any = any || f.inRange;
  }
  // numpy argmin (first minimum, first NaN wins); masked (out-of-range) entries count as +inf.
  size_t best = 0;
  bool bestSet = false;
  for (size_t k = 0; k < fits.size(); ++k) {
    const double d = (all || !any || fits[k].inRange) ? fits[k].D : kInf;
    if (!bestSet) {
      best = k;
      bestSet = true;
      if (d != d) break;
      continue;
    }
    const double b = (all || !any || fits[best].inRange) ? fits[best].D : kInf;
    if (d != d) {
      best = k;
      break;
    }
    if (d < b) best = k;
  }
  const auto& f = fits[best];
  out.alpha = f.alpha;
  out.xmin = bins[cand[best]];
  out.D = f.D;
  out.sigma = f.sigma;
  out.Lambda = f.Lambda;
  out.tailCount = f.tail;
  out.inRange = f.inRange;
  out.noiseFlag = !any;
  if (o.keepArrays) {
    for (size_t k = 0; k < fits.size(); ++k) {
      out.xmins.push_back(bins[cand[k]]);
      out.alphas.push_back(fits[k].alpha);
      out.Ds.push_back(fits[k].D);
      out.sigmas.push_back(fits[k].sigma);
      out.Lambdas.push_back(fits[k].Lambda);
    }
  }
  return Status::ok();
}

Status xminPeakRange(const double* nz, size_t n, bool hasXminMax, double xminMax, double& lo, double& hi, double& peak) {
  if (n == 0) return Status::error(Code::Empty, "xmin_peak: no eigenvalue above the fit threshold");
  std::vector<double> a(n);
  for (size_t i = 0; i < n; ++i) a[i] = std::log10(nz[i]);
  double first = a[0], last = a[0];
  for (double v : a) {
    if (v < first) first = v;
    if (v > last) last = v;
  }
  if (!std::isfinite(first) || !std::isfinite(last)) return Status::error(Code::NonFinite, "xmin_peak: non-finite log10 eigenvalue");
  if (first == last) {
    first -= 0.5;
    last += 0.5;
  }
  constexpr int bins = 100;
  // np.linspace(first, last, bins + 1)
  double edges[bins + 1];
  const double step = (last - first) / bins;
  for (int k = 0; k <= bins; ++k) edges[k] = static_cast<double>(k) * step + first;
  edges[bins] = last;
  long counts[bins] = {0};
  const double denom = last - first;
  for (double v : a) {
    long idx = static_cast<long>(((v - first) / denom) * bins);
    if (idx == bins) idx -= 1;
    if (v < edges[idx]) idx -= 1;
    if (idx != bins - 1 && v >= edges[idx + 1]) idx += 1;
    counts[idx]++;
  }
  int ih = 0;
  for (int k = 1; k < bins; ++k)
    if (counts[k] > counts[ih]) ih = k;
  peak = std::pow(10.0, edges[ih]);
  hi = hasXminMax ? xminMax : 1.5 * peak;
  lo = std::log10(0.95 * peak);
  return Status::ok();
}

}  // namespace ww
