#include "core/svd.h"
#include "napi/common.h"

namespace wwnapi {
namespace {

// Everything the worker needs, captured on the main thread as plain C++ (no N-API in Execute).
struct SvdJob {
  const void* data = nullptr;
  bool isFloat32 = false;
  size_t rows = 0, cols = 0;
  ww::Precision precision = ww::Precision::Float64;

  ww::Status operator()(std::vector<double>& out) const {
    return isFloat32 ? ww::singularValues(static_cast<const float*>(data), rows, cols, precision, out)
                     : ww::singularValues(static_cast<const double*>(data), rows, cols, precision, out);
  }
};

SvdJob parseSvdArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray()) throwUsage(env, "svdvals(data, rows, cols, options?): data must be a Float32Array or Float64Array");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  SvdJob job;
  job.rows = requireDim(env, info[1], "rows");
  job.cols = requireDim(env, info[2], "cols");
  if (job.rows > SIZE_MAX / job.cols || ta.ElementLength() != job.rows * job.cols)
    throwUsage(env, "svdvals: data has " + std::to_string(ta.ElementLength()) + " elements, expected rows*cols = " + std::to_string(job.rows) + "*" +
                        std::to_string(job.cols));
  switch (ta.TypedArrayType()) {
    case napi_float32_array: job.isFloat32 = true; job.data = ta.As<Napi::Float32Array>().Data(); break;
    case napi_float64_array: job.isFloat32 = false; job.data = ta.As<Napi::Float64Array>().Data(); break;
    default: throwUsage(env, "svdvals: data must be a Float32Array or Float64Array");
  }
  Napi::Object opts = optionsArg(info, 3);
  if (opts.Has("precision")) {
    const std::string p = opts.Get("precision").ToString().Utf8Value();
    if (p == "float32") job.precision = ww::Precision::Float32;
    else if (p != "float64") throwUsage(env, "svdvals: precision must be 'float64' or 'float32', got '" + p + "'");
  }
  return job;
}

Napi::Value toJs(Napi::Env env, std::vector<double>& sv) { return toFloat64Array(env, sv); }

Napi::Value SvdvalsSync(const Napi::CallbackInfo& info) {
  const SvdJob job = parseSvdArgs(info);
  return runSync<std::vector<double>>(info.Env(), job, toJs);
}

Napi::Value Svdvals(const Napi::CallbackInfo& info) {
  const SvdJob job = parseSvdArgs(info);
  return runAsync<std::vector<double>>(info.Env(), info[0], job, toJs);
}

}  // namespace

void initSvd(Napi::Env env, Napi::Object exports) {
  exports.Set("svdvals", Napi::Function::New(env, Svdvals, "svdvals"));
  exports.Set("svdvalsSync", Napi::Function::New(env, SvdvalsSync, "svdvalsSync"));
}

}  // namespace wwnapi
