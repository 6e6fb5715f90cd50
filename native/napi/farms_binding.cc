// farmsWindowEigs(data, rows, cols, windows, { method, precision, workers }): the pooled σ² of many windows
// of one matrix (FARMS, core/farms) in a single call off the event loop, so a layer's hundreds of
// small windows cost one trip through the thread pool. `windows` is a Float64Array of
// [row, col, rows, cols] quadruples.
#include "core/farms.h"
#include "napi/common.h"

namespace wwnapi {
namespace {

struct FarmsJob {
  ww::MatrixView view;
  std::vector<ww::FarmsWindow> windows;
  ww::SpectrumOptions opts;
  int workers = 1;
  ww::Status operator()(ww::FarmsEigs& out) const { return ww::farmsWindowEigs(view, windows, opts, out, workers); }
};

size_t windowInt(Napi::Env env, double v) {
  if (!(v >= 0) || v != static_cast<double>(static_cast<long long>(v)) || v > 9007199254740991.0)
    throwUsage(env, "farmsWindowEigs: window entries must be non-negative integers");
  return static_cast<size_t>(v);
}

FarmsJob parseArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MatrixArg m = matrixArg(info, 0, "farmsWindowEigs");
  FarmsJob job;
  job.view.data = m.data;
  job.view.dtype = m.isFloat32 ? ww::DType::F32 : ww::DType::F64;
  job.view.rows = m.rows;
  job.view.cols = m.cols;
  if (info.Length() < 4 || !info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throwUsage(env, "farmsWindowEigs(data, rows, cols, windows, options?): windows must be a Float64Array of [row, col, rows, cols] quadruples");
  Napi::Float64Array w = info[3].As<Napi::Float64Array>();
  if (w.ElementLength() % 4 != 0) throwUsage(env, "farmsWindowEigs: windows length must be a multiple of 4");
  maybeSimulateAllocFailure(FailSite::Arguments);
  job.windows.resize(w.ElementLength() / 4);
  for (size_t k = 0; k < job.windows.size(); ++k) {
    job.windows[k].row = windowInt(env, w[4 * k]);
    job.windows[k].col = windowInt(env, w[4 * k + 1]);
    job.windows[k].rows = windowInt(env, w[4 * k + 2]);
    job.windows[k].cols = windowInt(env, w[4 * k + 3]);
  }
  Napi::Object o = optionsArg(info, 4);
  const std::string method = o.Has("method") && o.Get("method").IsString() ? o.Get("method").As<Napi::String>().Utf8Value() : "accurate";
  if (method == "fast") job.opts.method = ww::Method::Fast;
  else if (method != "accurate")
    throwUsage(env, "farmsWindowEigs: method must be 'fast' or 'accurate', got '" + method + "'");
  const std::string precision = o.Has("precision") && o.Get("precision").IsString() ? o.Get("precision").As<Napi::String>().Utf8Value() : "float64";
  if (precision == "float32") job.opts.precision = ww::Precision::Float32;
  else if (precision != "float64")
    throwUsage(env, "farmsWindowEigs: precision must be 'float64' or 'float32', got '" + precision + "'");
  if (o.Has("workers") && !o.Get("workers").IsUndefined()) {
    Napi::Value v = o.Get("workers");
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 1 && d <= 1024) || d != static_cast<double>(static_cast<int>(d)))
      throwUsage(env, "farmsWindowEigs: workers must be an integer in 1…1024");
    job.workers = static_cast<int>(d);
  }
  // No rank columns. refineMin (default false): the smallest value of each window refined to ?gesdd's
  // accuracy (the recipes' guard then keeps Gram windows whose σmin is tiny: square windows).
  job.opts.refineMin = o.Has("refineMin") && o.Get("refineMin").ToBoolean().Value();
  job.opts.rankN = 0;
  return job;
}

Napi::Value toJs(Napi::Env env, ww::FarmsEigs& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("evals", toFloat64Array(env, r.evals));
  o.Set("route", ww::routeName(r.route));
  o.Set("errorBound", r.errorBound);
  if (!r.fallback.empty()) o.Set("fallback", r.fallback);
  return o;
}

Napi::Value FarmsWindowEigs(const Napi::CallbackInfo& info) {
  FarmsJob job = parseArgs(info);
  return runAsync<ww::FarmsEigs>(info.Env(), info[0], job, toJs);
}

}  // namespace

void initFarms(Napi::Env env, Napi::Object exports) {
  exports.Set("farmsWindowEigs", Napi::Function::New(env, guarded<FarmsWindowEigs>, "farmsWindowEigs"));
}

}  // namespace wwnapi
