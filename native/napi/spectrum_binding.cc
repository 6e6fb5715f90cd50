// N-API side of core/spectrum: singular values and eigenvalues of one matrix (spectrum) or of one
// layer's matrices (layerSpectrum, one crossing per layer, the route decided natively) by the
// accurate (?gesdd) or fast (Gram + guard) route, from a Float32Array/Float64Array or from the raw
// little-endian bytes of a model file (F32, F16, BF16), converted on the worker thread. With
// `verify`, a layer left on a Gram route also returns the handle of napi/layer_handle.h.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "core/blas_info.h"
#include "core/gram.h"
#include "core/spectrum.h"
#include "napi/common.h"
#include "napi/layer_handle.h"

namespace wwnapi {
namespace {

// Everything the worker needs, captured on the main thread as plain C++ (no N-API in Execute).
struct SpectrumJob {
  ww::MatrixView view;
  ww::SpectrumOptions opts;
  ww::Status operator()(ww::Spectrum& out) const { return ww::computeSpectrum(view, opts, out); }
};

ww::DType parseDtype(Napi::Env env, const std::string& d) {
  if (d == "F32") return ww::DType::F32;
  if (d == "F16") return ww::DType::F16;
  if (d == "BF16") return ww::DType::BF16;
  throwUsage(env, "svdvals: dtype must be 'F32', 'F16' or 'BF16' for raw bytes, got '" + d + "'");
}

std::string stringOpt(const Napi::Object& o, const char* key) {
  if (!o.Has(key)) return "";
  Napi::Value v = o.Get(key);
  return v.IsUndefined() || v.IsNull() ? "" : v.ToString().Utf8Value();
}

// data: Float32Array | Float64Array, or Uint16Array (dtype 'F16' | 'BF16') / Uint8Array (dtype
// 'F32' | 'F16' | 'BF16') holding the stored little-endian bytes.
ww::MatrixView viewOf(Napi::Env env, const Napi::Value& data, const Napi::Value& rows, const Napi::Value& cols, const std::string& dtype) {
  if (!data.IsTypedArray()) throwUsage(env, "svdvals(data, rows, cols, options?): data must be a Float32Array or Float64Array");
  Napi::TypedArray ta = data.As<Napi::TypedArray>();
  ww::MatrixView v;
  v.rows = requireDim(env, rows, "rows");
  v.cols = requireDim(env, cols, "cols");
  if (v.rows > SIZE_MAX / v.cols) throwUsage(env, "svdvals: rows*cols overflows");
  switch (ta.TypedArrayType()) {
    case napi_float32_array: v.dtype = ww::DType::F32; break;
    case napi_float64_array: v.dtype = ww::DType::F64; break;
    case napi_uint16_array:
      v.dtype = parseDtype(env, dtype);
      if (v.dtype == ww::DType::F32) throwUsage(env, "svdvals: a Uint16Array holds F16 or BF16 values");
      break;
    case napi_uint8_array: v.dtype = parseDtype(env, dtype); break;
    default: throwUsage(env, "svdvals: data must be a Float32Array or Float64Array (or a Uint16Array/Uint8Array of stored bytes with a dtype)");
  }
  if (!dtype.empty() && (ta.TypedArrayType() == napi_float32_array || ta.TypedArrayType() == napi_float64_array) &&
      dtype != (v.dtype == ww::DType::F32 ? "F32" : "F64"))
    throwUsage(env, "svdvals: dtype '" + dtype + "' does not match the array type");
  const size_t bytes = v.rows * v.cols;
  if (bytes > SIZE_MAX / ww::dtypeBytes(v.dtype) || ta.ByteLength() != bytes * ww::dtypeBytes(v.dtype))
    throwUsage(env, "svdvals: data has " + std::to_string(ta.ByteLength()) + " bytes, expected rows*cols = " + std::to_string(v.rows) + "*" +
                        std::to_string(v.cols) + " values of " + std::to_string(ww::dtypeBytes(v.dtype)) + " bytes");
  v.data = static_cast<const unsigned char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return v;
}

ww::MatrixView viewArg(const Napi::CallbackInfo& info, const Napi::Object& opts) {
  if (info.Length() < 3) throwUsage(info.Env(), "svdvals(data, rows, cols, options?): data must be a Float32Array or Float64Array");
  return viewOf(info.Env(), info[0], info[1], info[2], stringOpt(opts, "dtype"));
}

// threads: the BLAS threads the call runs with, from the caller's plan; by default the process's
// current OpenBLAS thread count (the whole budget when no scheduler has lowered it), read here on
// the calling thread, once, before any work.
int threadsOpt(Napi::Env env, const Napi::Object& o) {
  if (!o.Has("threads") || o.Get("threads").IsUndefined()) return std::max(1, ww::blasInfo().threads);
  Napi::Value v = o.Get("threads");
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
  if (!(d >= 1 && d <= 1024) || d != static_cast<double>(static_cast<int>(d))) throwUsage(env, "svdvals: threads must be an integer from 1 to 1024");
  return static_cast<int>(d);
}

// The options shared by spectrum and layerSpectrum (rankN, dtype and forceGram are per matrix).
ww::SpectrumOptions methodOpts(Napi::Env env, const Napi::Object& o) {
  ww::SpectrumOptions opts;
  const std::string method = stringOpt(o, "method");
  if (method == "fast") opts.method = ww::Method::Fast;
  else if (!method.empty() && method != "accurate")
    throwUsage(env, "svdvals: method must be 'fast' or 'accurate', got '" + method + "'");
  const std::string precision = stringOpt(o, "precision");
  if (precision == "float32") opts.precision = ww::Precision::Float32;
  else if (!precision.empty() && precision != "float64")
    throwUsage(env, "svdvals: precision must be 'float64' or 'float32', got '" + precision + "'");
  if (o.Has("refineMin")) opts.refineMin = o.Get("refineMin").ToBoolean().Value();
  opts.threads = threadsOpt(env, o);
  if (o.Has("exclusive")) opts.exclusive = o.Get("exclusive").ToBoolean().Value();
  const std::string solver = stringOpt(o, "eigensolver");
  using Solver = ww::SpectrumOptions::Eigensolver;
  if (solver == "syevd") opts.eigensolver = Solver::OneStage;
  else if (solver == "syevd_2stage")
    opts.eigensolver = Solver::TwoStage;
  else if (solver == "syevd_2stage_split")
    opts.eigensolver = Solver::TwoStageSplit;
  else if (!solver.empty() && solver != "auto")
    throwUsage(env, "svdvals: eigensolver must be 'auto', 'syevd', 'syevd_2stage' or 'syevd_2stage_split', got '" + solver + "'");
  return opts;
}

double nonNegativeOpt(Napi::Env env, const Napi::Object& o, const char* key, double fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return fallback;
  Napi::Value v = o.Get(key);
  if (!v.IsNumber() || !(v.As<Napi::Number>().DoubleValue() >= 0)) throwUsage(env, std::string("svdvals: ") + key + " must be a non-negative number");
  return v.As<Napi::Number>().DoubleValue();
}

SpectrumJob parseArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = optionsArg(info, 3);
  SpectrumJob job;
  job.view = viewArg(info, o);
  job.opts = methodOpts(env, o);
  if (o.Has("forceGram")) job.opts.forceGram = o.Get("forceGram").ToBoolean().Value();
  job.opts.rankN = nonNegativeOpt(env, o, "rankN", 0);
  return job;
}

Napi::Value toJs(Napi::Env env, ww::Spectrum& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("sv", toFloat64Array(env, s.sv));
  o.Set("evals", toFloat64Array(env, s.evals));
  o.Set("route", ww::routeName(s.route));
  o.Set("errorBound", s.errorBound);
  o.Set("sumOfSquares", s.sumOfSquares);
  if (!s.fallback.empty()) o.Set("fallback", s.fallback);
  o.Set("refineIterations", s.refineIterations);
  o.Set("refineBlock", s.refineBlock);
  o.Set("gramSeconds", s.gramSeconds);
  o.Set("refineSeconds", s.refineSeconds);
  o.Set("gesddSeconds", s.gesddSeconds);
  if (s.route != ww::Route::Gesdd && s.route != ww::Route::SGesdd) o.Set("eigensolver", ww::gramSolverName(s.solver));
  return o;
}

Napi::Value SpectrumSync(const Napi::CallbackInfo& info) {
  const SpectrumJob job = parseArgs(info);
  return runSync<ww::Spectrum>(info.Env(), job, toJs);
}

Napi::Value SpectrumAsync(const Napi::CallbackInfo& info) {
  const SpectrumJob job = parseArgs(info);
  return runAsync<ww::Spectrum>(info.Env(), info[0], job, toJs);
}

// layerSpectrum(matrices: {data, rows, cols, dtype?}[], options): one layer in one crossing.
std::atomic<uint64_t> layerCalls{0};

struct LayerJob {
  std::vector<ww::MatrixView> views;
  ww::LayerOptions opts;
  bool verify = false;  // a check after the fit may still reject the Gram values: return a handle
  ww::Status operator()(ww::LayerSpectrum& out) const { return ww::computeLayerSpectrum(views, opts, out); }
};

// `pins` gets each matrix's typed array, read once: the views point into exactly these, and the
// worker (or a handle) keeps them alive through this array, which only the addon holds.
LayerJob parseLayerArgs(const Napi::CallbackInfo& info, Napi::Array& pins) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throwUsage(env, "layerSpectrum(matrices, options?): matrices must be an array");
  Napi::Array mats = info[0].As<Napi::Array>();
  if (mats.Length() == 0) throwUsage(env, "layerSpectrum: a layer has at least one matrix");
  Napi::Object o = optionsArg(info, 1);
  layerCalls.fetch_add(1, std::memory_order_relaxed);
  LayerJob job;
  pins = Napi::Array::New(env, mats.Length());
  for (uint32_t i = 0; i < mats.Length(); ++i) {
    Napi::Value m = mats.Get(i);
    if (!m.IsObject()) throwUsage(env, "layerSpectrum: each matrix is an object {data, rows, cols, dtype?}");
    Napi::Object mo = m.As<Napi::Object>();
    Napi::Value data = mo.Get("data");
    job.views.push_back(viewOf(env, data, mo.Get("rows"), mo.Get("cols"), stringOpt(mo, "dtype")));
    pins.Set(i, data);
  }
  job.opts.matrix = methodOpts(env, o);
  job.opts.N = nonNegativeOpt(env, o, "N", 0);
  const double keep = nonNegativeOpt(env, o, "keep", -1);
  if (keep >= 0 && keep < static_cast<double>(SIZE_MAX)) job.opts.keep = static_cast<size_t>(keep);
  if (o.Has("unsquared")) job.opts.unsquared = o.Get("unsquared").ToBoolean().Value();
  if (o.Has("inverse")) job.opts.inverse = o.Get("inverse").ToBoolean().Value();
  if (o.Has("layerGuard")) job.opts.layerGuard = o.Get("layerGuard").ToBoolean().Value();
  if (o.Has("verify")) job.verify = o.Get("verify").ToBoolean().Value();
  if (o.Has("thresholds") && !o.Get("thresholds").IsUndefined()) {
    if (!o.Get("thresholds").IsArray()) throwUsage(env, "layerSpectrum: thresholds must be an array of {value, name}");
    Napi::Array t = o.Get("thresholds").As<Napi::Array>();
    for (uint32_t i = 0; i < t.Length(); ++i) {
      Napi::Value e = t.Get(i);
      if (!e.IsObject() || !e.As<Napi::Object>().Get("value").IsNumber())
        throwUsage(env, "layerSpectrum: thresholds must be an array of {value, name}");
      job.opts.thresholds.emplace_back(e.As<Napi::Object>().Get("value").As<Napi::Number>().DoubleValue(), stringOpt(e.As<Napi::Object>(), "name"));
    }
  }
  return job;
}

Napi::Value layerToJs(Napi::Env env, ww::LayerSpectrum& s) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array mats = Napi::Array::New(env, s.matrices.size());
  for (size_t i = 0; i < s.matrices.size(); ++i) mats.Set(static_cast<uint32_t>(i), toJs(env, s.matrices[i]));
  o.Set("matrices", mats);
  o.Set("route", ww::routeName(s.route));
  if (!s.fallback.empty()) o.Set("fallback", s.fallback);
  o.Set("svMinLow", s.svMinLow);
  return o;
}

Napi::Value LayerSync(const Napi::CallbackInfo& info) {
  Napi::Array pins;
  const LayerJob job = parseLayerArgs(info, pins);
  if (job.verify) throwUsage(info.Env(), "layerSpectrumSync: verify needs the asynchronous layerSpectrum");
  return runSync<ww::LayerSpectrum>(info.Env(), job, layerToJs);
}

bool onGram(ww::Route r) { return r != ww::Route::Gesdd && r != ww::Route::SGesdd; }

Napi::Value LayerAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array pins;
  const LayerJob job = parseLayerArgs(info, pins);
  if (!job.verify) return runAsync<ww::LayerSpectrum>(env, pins, job, layerToJs);
  // verify: the handle keeps the same typed arrays pinned (the stored bytes themselves: no copy)
  auto pinned = std::make_shared<Napi::ObjectReference>(Napi::Persistent(pins.As<Napi::Object>()));
  return runAsync<ww::LayerSpectrum>(env, pins, job, [job, pinned](Napi::Env e, ww::LayerSpectrum& s) -> Napi::Value {
    Napi::Value v = layerToJs(e, s);
    if (onGram(s.route)) v.As<Napi::Object>().Set("handle", newLayerHandle(e, pinned->Value().As<Napi::Array>(), job.views, job.opts, layerToJs));
    return v;
  });
}

// spectrumCounters(): process-wide counts since the addon loaded, for tests: layer calls, finished
// handles, handles still pinning matrices, and the passes over stored matrices by what they fed.
Napi::Value SpectrumCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ww::SpectrumPasses p = ww::spectrumPasses();
  Napi::Object o = Napi::Object::New(env);
  o.Set("layerCalls", static_cast<double>(layerCalls.load(std::memory_order_relaxed)));
  o.Set("finishes", static_cast<double>(finishedLayers()));
  o.Set("liveHandles", static_cast<double>(liveLayerHandles()));
  o.Set("gramPasses", static_cast<double>(p.gram));
  o.Set("refineCopies", static_cast<double>(p.refine));
  o.Set("gesddCopies", static_cast<double>(p.gesdd));
  return o;
}

// eigensolverFor(n, threads, exclusive?): the Gram route's eigensolver for an n×n Gram matrix on
// `threads` BLAS threads (the rule of core/gram.h, for tests and benchmarks).
Napi::Value EigensolverFor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t n = requireDim(env, info[0], "n");
  const size_t threads = requireDim(env, info[1], "threads");
  const bool exclusive = info.Length() > 2 && info[2].ToBoolean().Value();
  return Napi::String::New(env, ww::gramSolverName(ww::gramSolverFor(n, static_cast<int>(std::min<size_t>(threads, 1024)), exclusive)));
}

}  // namespace

void initSpectrum(Napi::Env env, Napi::Object exports) {
  exports.Set("eigensolverFor", Napi::Function::New(env, guarded<EigensolverFor>, "eigensolverFor"));
  exports.Set("spectrum", Napi::Function::New(env, guarded<SpectrumAsync>, "spectrum"));
  exports.Set("spectrumSync", Napi::Function::New(env, guarded<SpectrumSync>, "spectrumSync"));
  exports.Set("layerSpectrum", Napi::Function::New(env, guarded<LayerAsync>, "layerSpectrum"));
  exports.Set("layerSpectrumSync", Napi::Function::New(env, guarded<LayerSync>, "layerSpectrumSync"));
  exports.Set("spectrumCounters", Napi::Function::New(env, guarded<SpectrumCounters>, "spectrumCounters"));
  initLayerHandle(env, exports);
}

}  // namespace wwnapi
