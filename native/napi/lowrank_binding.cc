// lowRankApprox(data, rows, cols, k, { mode }): truncated-SVD reconstruction (SVD smoothing and
// sharpening) off the event loop, with a sync twin for small matrices.
#include "core/lowrank.h"
#include "napi/common.h"

namespace wwnapi {
namespace {

struct LowRankJob {
  const void* data = nullptr;
  bool isFloat32 = false;
  size_t rows = 0, cols = 0, k = 0;
  ww::LowRankMode mode = ww::LowRankMode::KeepTop;

  ww::Status operator()(ww::LowRank& out) const {
    return isFloat32 ? ww::lowRankApprox(static_cast<const float*>(data), rows, cols, k, mode, out)
                     : ww::lowRankApprox(static_cast<const double*>(data), rows, cols, k, mode, out);
  }
};

LowRankJob parseArgs(const Napi::CallbackInfo& info, const char* fn) {
  Napi::Env env = info.Env();
  const MatrixArg m = matrixArg(info, 0, fn);
  LowRankJob job;
  job.data = m.data;
  job.isFloat32 = m.isFloat32;
  job.rows = m.rows;
  job.cols = m.cols;
  if (info.Length() < 4 || !info[3].IsNumber()) throwUsage(env, std::string(fn) + "(data, rows, cols, k, options): k must be a non-negative integer");
  const double k = info[3].As<Napi::Number>().DoubleValue();
  if (!(k >= 0) || k != static_cast<double>(static_cast<long long>(k)) || k > 9007199254740991.0)
    throwUsage(env, std::string(fn) + ": k must be a non-negative integer, got " + std::to_string(k));
  job.k = static_cast<size_t>(k);
  Napi::Object opts = optionsArg(info, 4);
  if (opts.Has("mode")) {
    const std::string mode = opts.Get("mode").ToString().Utf8Value();
    if (mode == "drop") job.mode = ww::LowRankMode::DropTop;
    else if (mode != "keep")
      throwUsage(env, std::string(fn) + ": mode must be 'keep' or 'drop', got '" + mode + "'");
  }
  return job;
}

Napi::Value toJs(Napi::Env env, ww::LowRank& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("matrix", toFloat64Array(env, r.matrix));
  o.Set("singular", toFloat64Array(env, r.singular));
  return o;
}

Napi::Value LowRankApprox(const Napi::CallbackInfo& info) {
  const LowRankJob job = parseArgs(info, "lowRankApprox");
  return runAsync<ww::LowRank>(info.Env(), info[0], job, toJs);
}

Napi::Value LowRankApproxSync(const Napi::CallbackInfo& info) {
  const LowRankJob job = parseArgs(info, "lowRankApproxSync");
  return runSync<ww::LowRank>(info.Env(), job, toJs);
}

}  // namespace

void initLowRank(Napi::Env env, Napi::Object exports) {
  exports.Set("lowRankApprox", Napi::Function::New(env, guarded<LowRankApprox>, "lowRankApprox"));
  exports.Set("lowRankApproxSync", Napi::Function::New(env, guarded<LowRankApproxSync>, "lowRankApproxSync"));
}

}  // namespace wwnapi
