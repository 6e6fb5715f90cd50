// N-API side of core/eig: the Gram-matrix eigen-decomposition with eigenvectors (vectors=True).
#include "core/eig.h"
#include "napi/common.h"

namespace wwnapi {
namespace {

struct EigJob {
  const void* data = nullptr;
  bool isFloat32 = false;
  bool gram = true;
  size_t rows = 0, cols = 0;

  ww::Status operator()(ww::SymEigen& out) const {
    if (!gram) return ww::symmetricEigen(static_cast<const double*>(data), rows, out);
    return isFloat32 ? ww::gramEigen(static_cast<const float*>(data), rows, cols, out)
                     : ww::gramEigen(static_cast<const double*>(data), rows, cols, out);
  }
};

EigJob parseGramArgs(const Napi::CallbackInfo& info, const char* fn) {
  const MatrixArg m = matrixArg(info, 0, fn);
  EigJob job;
  job.data = m.data;
  job.isFloat32 = m.isFloat32;
  job.rows = m.rows;
  job.cols = m.cols;
  return job;
}

Napi::Value eigToJs(Napi::Env env, ww::SymEigen& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("n", static_cast<double>(e.n));
  o.Set("values", toFloat64Array(env, e.values));
  o.Set("vectors", toFloat64Array(env, e.vectors));
  return o;
}

Napi::Value GramEigen(const Napi::CallbackInfo& info) {
  const EigJob job = parseGramArgs(info, "gramEigen");
  return runAsync<ww::SymEigen>(info.Env(), info[0], job, eigToJs);
}

Napi::Value GramEigenSync(const Napi::CallbackInfo& info) {
  const EigJob job = parseGramArgs(info, "gramEigenSync");
  return runSync<ww::SymEigen>(info.Env(), job, eigToJs);
}

Napi::Value SymmetricEigenSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throwUsage(env, "symmetricEigenSync(data, n): data must be a Float64Array");
  EigJob job;
  job.gram = false;
  job.rows = requireDim(env, info[1], "n");
  Napi::Float64Array a = info[0].As<Napi::Float64Array>();
  if (job.rows > SIZE_MAX / job.rows || a.ElementLength() != job.rows * job.rows) throwUsage(env, "symmetricEigenSync: data must have n*n elements");
  job.data = a.Data();
  return runSync<ww::SymEigen>(env, job, eigToJs);
}

}  // namespace

void initEig(Napi::Env env, Napi::Object exports) {
  exports.Set("gramEigen", Napi::Function::New(env, guarded<GramEigen>, "gramEigen"));
  exports.Set("gramEigenSync", Napi::Function::New(env, guarded<GramEigenSync>, "gramEigenSync"));
  exports.Set("symmetricEigenSync", Napi::Function::New(env, guarded<SymmetricEigenSync>, "symmetricEigenSync"));
}

}  // namespace wwnapi
