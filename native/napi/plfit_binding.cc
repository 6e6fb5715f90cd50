// N-API side of the powerlaw-package port (core/plfit): the fitter (async and sync), the upper
// incomplete gamma function, the xmin_peak range and scipy's Nelder–Mead driving a JS objective.
#include "core/plfit.h"
#include "napi/common.h"

namespace wwnapi {
namespace {

struct PlJob {
  std::vector<double> data;
  ww::PlPackageOptions opts;
  bool xminPeak = false;
  bool hasXminMax = false;
  double xminMax = 0;

  ww::Status operator()(std::pair<ww::PlPackageFit, std::array<double, 3>>& out) const {
    ww::PlPackageOptions o = opts;
    out.second = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
    if (xminPeak) {
      double lo = 0, hi = 0, peak = 0;
      ww::Status st = ww::xminPeakRange(data.data(), data.size(), hasXminMax, xminMax, lo, hi, peak);
      if (!st.isOk()) return st;
      o.hasXminRange = true;
      o.xminLo = lo;
      o.xminHi = hi;
      out.second = {lo, hi, peak};
    }
    return ww::fitPowerLawPackage(data.data(), data.size(), o, out.first);
  }
};

using PlResult = std::pair<ww::PlPackageFit, std::array<double, 3>>;

double numberOpt(Napi::Env env, const Napi::Object& o, const char* key, bool& has) {
  has = false;
  if (!o.Has(key)) return 0;
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return 0;
  if (!v.IsNumber()) throwUsage(env, std::string("fitPowerLawPackage: ") + key + " must be a number");
  has = true;
  return v.As<Napi::Number>().DoubleValue();
}

PlJob parsePlArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlJob job;
  job.data = float64ArgCopy(info, 0, "fitPowerLawPackage(data, options?): data must be a Float64Array");
  Napi::Object o = optionsArg(info, 1);
  if (o.Has("distribution")) {
    Napi::Value v = o.Get("distribution");
    if (!v.IsUndefined()) {
      const std::string d = v.ToString().Utf8Value();
      if (d == "truncated_power_law") job.opts.truncated = true;
      else if (d != "power_law")
        throwUsage(env, "fitPowerLawPackage: distribution must be 'power_law' or 'truncated_power_law', got '" + d + "'");
    }
  }
  job.opts.xmax = numberOpt(env, o, "xmax", job.opts.hasXmax);
  if (o.Has("xminRange") && !o.Get("xminRange").IsUndefined() && !o.Get("xminRange").IsNull()) {
    Napi::Value v = o.Get("xminRange");
    if (!v.IsArray() || v.As<Napi::Array>().Length() != 2) throwUsage(env, "fitPowerLawPackage: xminRange must be [lo, hi]");
    Napi::Array r = v.As<Napi::Array>();
    job.opts.hasXminRange = true;
    job.opts.xminLo = r.Get(0u).ToNumber().DoubleValue();
    job.opts.xminHi = r.Get(1u).ToNumber().DoubleValue();
  }
  if (o.Has("xminPeak")) job.xminPeak = o.Get("xminPeak").ToBoolean().Value();
  job.xminMax = numberOpt(env, o, "xminMax", job.hasXminMax);
  if (o.Has("arrays")) job.opts.keepArrays = o.Get("arrays").ToBoolean().Value();
  if (job.xminPeak && job.opts.hasXminRange) throwUsage(env, "fitPowerLawPackage: give xminRange or xminPeak, not both");
  return job;
}

Napi::Value plToJs(Napi::Env env, PlResult& r) {
  const ww::PlPackageFit& f = r.first;
  Napi::Object o = Napi::Object::New(env);
  o.Set("alpha", f.alpha);
  o.Set("xmin", f.xmin);
  o.Set("D", f.D);
  o.Set("sigma", f.sigma);
  o.Set("Lambda", f.Lambda);
  o.Set("tailCount", static_cast<double>(f.tailCount));
  o.Set("candidates", static_cast<double>(f.candidates));
  o.Set("inRange", f.inRange);
  o.Set("noiseFlag", f.noiseFlag);
  if (!std::isnan(r.second[0])) {
    Napi::Array range = Napi::Array::New(env, 2);
    range.Set(0u, r.second[0]);
    range.Set(1u, r.second[1]);
    o.Set("xminRange", range);
    o.Set("peak", r.second[2]);
  }
  setScanArrays(env, o, f.xmins, f.alphas, f.Ds, f.sigmas);
  if (!f.xmins.empty()) o.Set("Lambdas", toFloat64Array(env, f.Lambdas));
  return o;
}

Napi::Value FitPowerLawPackage(const Napi::CallbackInfo& info) {
  PlJob job = parsePlArgs(info);
  return runAsync<PlResult>(info.Env(), info.Env().Undefined(), std::move(job), plToJs);
}

Napi::Value FitPowerLawPackageSync(const Napi::CallbackInfo& info) {
  const PlJob job = parsePlArgs(info);
  return runSync<PlResult>(info.Env(), job, plToJs);
}

Napi::Value UpperIncompleteGamma(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) throwUsage(env, "upperIncompleteGamma(s, x): numbers expected");
  return Napi::Number::New(env, ww::upperIncompleteGamma(info[0].As<Napi::Number>().DoubleValue(), info[1].As<Napi::Number>().DoubleValue()));
}

// nelderMeadSync(fn, x0): scipy.optimize.fmin defaults driving a JS objective fn(x: number[]) →
// number, for 1 or 2 parameters. Runs on the calling thread.
Napi::Value NelderMeadSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsArray())
    throwUsage(env, "nelderMeadSync(fn, x0): a function and an array of 1 or 2 numbers expected");
  Napi::Function fn = info[0].As<Napi::Function>();
  Napi::Array x0 = info[1].As<Napi::Array>();
  const uint32_t n = x0.Length();
  auto callJs = [&](const double* x, uint32_t len) {
    Napi::Array arg = Napi::Array::New(env, len);
    for (uint32_t i = 0; i < len; ++i) arg.Set(i, x[i]);
    Napi::Value v = fn.Call({arg});
    if (!v.IsNumber()) throwUsage(env, "nelderMeadSync: the objective must return a number");
    return v.As<Napi::Number>().DoubleValue();
  };
  Napi::Object out = Napi::Object::New(env);
  auto fill = [&](const double* x, uint32_t len, double fval, int it, int fc, int wf) {
    Napi::Array xa = Napi::Array::New(env, len);
    for (uint32_t i = 0; i < len; ++i) xa.Set(i, x[i]);
    out.Set("x", xa);
    out.Set("fval", fval);
    out.Set("iterations", it);
    out.Set("fcalls", fc);
    out.Set("warnflag", wf);
  };
  if (n == 1) {
    const auto r = ww::nelderMead<1>([&](const std::array<double, 1>& x) { return callJs(x.data(), 1); }, {x0.Get(0u).ToNumber().DoubleValue()});
    fill(r.x.data(), 1, r.fval, r.iterations, r.fcalls, r.warnflag);
  } else if (n == 2) {
    const auto r = ww::nelderMead<2>([&](const std::array<double, 2>& x) { return callJs(x.data(), 2); },
                                     {x0.Get(0u).ToNumber().DoubleValue(), x0.Get(1u).ToNumber().DoubleValue()});
    fill(r.x.data(), 2, r.fval, r.iterations, r.fcalls, r.warnflag);
  } else {
    throwUsage(env, "nelderMeadSync: x0 must have 1 or 2 elements");
  }
  return out;
}

}  // namespace

void initPlFit(Napi::Env env, Napi::Object exports) {
  exports.Set("fitPowerLawPackage", Napi::Function::New(env, guarded<FitPowerLawPackage>, "fitPowerLawPackage"));
  exports.Set("fitPowerLawPackageSync", Napi::Function::New(env, guarded<FitPowerLawPackageSync>, "fitPowerLawPackageSync"));
  exports.Set("upperIncompleteGamma", Napi::Function::New(env, guarded<UpperIncompleteGamma>, "upperIncompleteGamma"));
  exports.Set("nelderMeadSync", Napi::Function::New(env, guarded<NelderMeadSync>, "nelderMeadSync"));
}

}  // namespace wwnapi
