// matmul(a, b, m, k, n): row-major float64 product off the event loop (intra-layer analysis).
#include "core/gemm.h"
#include "napi/common.h"

namespace wwnapi {
namespace {

struct GemmJob {
  const void* a = nullptr;
  const void* b = nullptr;
  bool isFloat32 = false;
  size_t m = 0, k = 0, n = 0;

  ww::Status operator()(std::vector<double>& out) const {
    return isFloat32 ? ww::matmul(static_cast<const float*>(a), static_cast<const float*>(b), m, k, n, out)
                     : ww::matmul(static_cast<const double*>(a), static_cast<const double*>(b), m, k, n, out);
  }
};

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5) throwUsage(env, "matmul(a, b, m, k, n): five arguments expected");
  // a is m×k and b is k×n: check each against its own shape.
  const size_t m = requireDim(env, info[2], "m"), k = requireDim(env, info[3], "k"), n = requireDim(env, info[4], "n");
  if (!info[0].IsTypedArray() || !info[1].IsTypedArray()) throwUsage(env, "matmul: a and b must be Float32Array or Float64Array");
  Napi::TypedArray a = info[0].As<Napi::TypedArray>(), b = info[1].As<Napi::TypedArray>();
  if (a.TypedArrayType() != b.TypedArrayType() || (a.TypedArrayType() != napi_float32_array && a.TypedArrayType() != napi_float64_array))
    throwUsage(env, "matmul: a and b must both be Float32Array or both Float64Array");
  if (m > SIZE_MAX / k || k > SIZE_MAX / n || a.ElementLength() != m * k || b.ElementLength() != k * n)
    throwUsage(env, "matmul: a must have m*k and b k*n elements");
  GemmJob job;
  job.isFloat32 = a.TypedArrayType() == napi_float32_array;
  job.a = job.isFloat32 ? static_cast<const void*>(a.As<Napi::Float32Array>().Data()) : a.As<Napi::Float64Array>().Data();
  job.b = job.isFloat32 ? static_cast<const void*>(b.As<Napi::Float32Array>().Data()) : b.As<Napi::Float64Array>().Data();
  job.m = m;
  job.k = k;
  job.n = n;
  Napi::Array keep = Napi::Array::New(env, 2);
  keep.Set(0u, a);
  keep.Set(1u, b);
  return runAsync<std::vector<double>>(env, keep, job, [](Napi::Env e, std::vector<double>& c) -> Napi::Value { return toFloat64Array(e, c); });
}

}  // namespace

void initGemm(Napi::Env env, Napi::Object exports) { exports.Set("matmul", Napi::Function::New(env, guarded<Matmul>, "matmul")); }

}  // namespace wwnapi
