#include "core/powerlaw.h"
#include "napi/common.h"

namespace wwnapi {
namespace {

struct FitJob {
  std::vector<double> data;  // copied: fits are small and the caller may reuse its buffer
  ww::PowerLawOptions opts;

  ww::Status operator()(ww::PowerLawFit& out) const { return ww::fitPowerLaw(data.data(), data.size(), opts, out); }
};

FitJob parseFitArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FitJob job;
  job.data = float64ArgCopy(info, 0, "fitPowerLaw(evals, options?): evals must be a Float64Array");
  Napi::Object o = optionsArg(info, 1);
  auto number = [&](const char* key, bool& has, double& value) {
    if (!o.Has(key)) return;
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return;
    if (!v.IsNumber()) throwUsage(env, std::string("fitPowerLaw: ") + key + " must be a number");
    has = true;
    value = v.As<Napi::Number>().DoubleValue();
  };
  number("xmin", job.opts.hasXmin, job.opts.xmin);
  number("xmax", job.opts.hasXmax, job.opts.xmax);
  if (o.Has("arrays")) job.opts.keepArrays = o.Get("arrays").ToBoolean().Value();
  return job;
}

Napi::Value fitToJs(Napi::Env env, ww::PowerLawFit& f) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("alpha", f.alpha);
  r.Set("xmin", f.xmin);
  r.Set("xmax", f.xmax);
  r.Set("D", f.D);
  r.Set("sigma", f.sigma);
  r.Set("bestIndex", static_cast<double>(f.bestIndex));
  r.Set("tailCount", static_cast<double>(f.tailCount));
  r.Set("candidates", static_cast<double>(f.candidates));
  setScanArrays(env, r, f.xmins, f.alphas, f.Ds, f.sigmas);
  return r;
}

Napi::Value FitPowerLawSync(const Napi::CallbackInfo& info) {
  const FitJob job = parseFitArgs(info);
  return runSync<ww::PowerLawFit>(info.Env(), job, fitToJs);
}

Napi::Value FitPowerLaw(const Napi::CallbackInfo& info) {
  FitJob job = parseFitArgs(info);
  return runAsync<ww::PowerLawFit>(info.Env(), info.Env().Undefined(), std::move(job), fitToJs);
}

}  // namespace

void initPowerLaw(Napi::Env env, Napi::Object exports) {
  exports.Set("fitPowerLaw", Napi::Function::New(env, guarded<FitPowerLaw>, "fitPowerLaw"));
  exports.Set("fitPowerLawSync", Napi::Function::New(env, guarded<FitPowerLawSync>, "fitPowerLawSync"));
}

}  // namespace wwnapi
