#include <lapacke.h>

#include "core/blas_info.h"
#include "napi/common.h"

extern "C" void ilaver_(lapack_int* major, lapack_int* minor, lapack_int* patch) __attribute__((weak));

namespace wwnapi {
namespace {

Napi::Value NativeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ww::BlasInfo b = ww::blasInfo();
  Napi::Object r = Napi::Object::New(env);
  r.Set("blas", b.isOpenBlas ? "OpenBLAS" : "unknown");
  r.Set("blasConfig", b.config);
  r.Set("coreType", b.coreName);
  r.Set("blasThreads", b.threads);
  r.Set("blasParallel", b.parallel);
  std::string lapack = "unknown";
  if (ilaver_) {
    lapack_int maj = 0, min = 0, pat = 0;
    ilaver_(&maj, &min, &pat);
    lapack = std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(pat);
  }
  r.Set("lapackVersion", lapack);
  r.Set("napiVersion", NAPI_VERSION);
  return r;
}

Napi::Value SetBlasThreads(const Napi::CallbackInfo& info) {
  const size_t n = requireDim(info.Env(), info.Length() > 0 ? info[0] : info.Env().Undefined(), "threads");
  return Napi::Boolean::New(info.Env(), ww::setBlasThreads(static_cast<int>(n > 1024 ? 1024 : n)));
}

}  // namespace

void initInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("nativeInfo", Napi::Function::New(env, guarded<NativeInfo>, "nativeInfo"));
  exports.Set("setBlasThreads", Napi::Function::New(env, guarded<SetBlasThreads>, "setBlasThreads"));
}

}  // namespace wwnapi
