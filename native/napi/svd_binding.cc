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
  const MatrixArg m = matrixArg(info, 0, "svdvals");
  SvdJob job;
  job.data = m.data;
  job.isFloat32 = m.isFloat32;
  job.rows = m.rows;
  job.cols = m.cols;
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
  exports.Set("svdvals", Napi::Function::New(env, guarded<Svdvals>, "svdvals"));
  exports.Set("svdvalsSync", Napi::Function::New(env, guarded<SvdvalsSync>, "svdvalsSync"));
}

}  // namespace wwnapi
