// N-API side of core/spectrum: singular values and eigenvalues of one matrix by the accurate
// (?gesdd) or fast (Gram + guard) route, from a Float32Array/Float64Array or from the raw
// little-endian bytes of a model file (F32, F16, BF16), converted on the worker thread.
#include "core/spectrum.h"
#include "napi/common.h"

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
ww::MatrixView viewArg(const Napi::CallbackInfo& info, const Napi::Object& opts) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray())
    throwUsage(env, "svdvals(data, rows, cols, options?): data must be a Float32Array or Float64Array");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  ww::MatrixView v;
  v.rows = requireDim(env, info[1], "rows");
  v.cols = requireDim(env, info[2], "cols");
  if (v.rows > SIZE_MAX / v.cols) throwUsage(env, "svdvals: rows*cols overflows");
  const std::string dtype = stringOpt(opts, "dtype");
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

SpectrumJob parseArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = optionsArg(info, 3);
  SpectrumJob job;
  job.view = viewArg(info, o);
  const std::string method = stringOpt(o, "method");
  if (method == "fast") job.opts.method = ww::Method::Fast;
  else if (!method.empty() && method != "accurate")
    throwUsage(env, "svdvals: method must be 'fast' or 'accurate', got '" + method + "'");
  const std::string precision = stringOpt(o, "precision");
  if (precision == "float32") job.opts.precision = ww::Precision::Float32;
  else if (!precision.empty() && precision != "float64")
    throwUsage(env, "svdvals: precision must be 'float64' or 'float32', got '" + precision + "'");
  if (o.Has("refineMin")) job.opts.refineMin = o.Get("refineMin").ToBoolean().Value();
  if (o.Has("forceGram")) job.opts.forceGram = o.Get("forceGram").ToBoolean().Value();
  if (o.Has("rankN") && !o.Get("rankN").IsUndefined()) {
    Napi::Value v = o.Get("rankN");
    if (!v.IsNumber() || !(v.As<Napi::Number>().DoubleValue() >= 0)) throwUsage(env, "svdvals: rankN must be a non-negative number");
    job.opts.rankN = v.As<Napi::Number>().DoubleValue();
  }
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

}  // namespace

void initSpectrum(Napi::Env env, Napi::Object exports) {
  exports.Set("spectrum", Napi::Function::New(env, guarded<SpectrumAsync>, "spectrum"));
  exports.Set("spectrumSync", Napi::Function::New(env, guarded<SpectrumSync>, "spectrumSync"));
}

}  // namespace wwnapi
