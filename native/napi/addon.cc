#include <napi.h>

#include <cstdlib>
#include <cstring>

#include "napi/common.h"

namespace wwnapi {
void initFarms(Napi::Env env, Napi::Object exports);  // napi/farms_binding.cc (recipes)
}  // namespace wwnapi

namespace {

// simulateAllocFailure('arguments' | 'compute' | 'result'): the next native call throws
// std::bad_alloc at that point (argument copy, core computation, result conversion).
Napi::Value SimulateAllocFailure(const Napi::CallbackInfo& info) {
  const std::string site = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  wwnapi::FailSite s = wwnapi::FailSite::None;
  if (site == "arguments") s = wwnapi::FailSite::Arguments;
  else if (site == "compute")
    s = wwnapi::FailSite::Compute;
  else if (site == "result")
    s = wwnapi::FailSite::Result;
  else if (site != "none")
    wwnapi::throwUsage(info.Env(), "simulateAllocFailure(site): site must be 'arguments', 'compute', 'result' or 'none'");
  wwnapi::simulatedFailure().store(static_cast<int>(s));
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  wwnapi::initSpectrum(env, exports);
  wwnapi::initPowerLaw(env, exports);
  wwnapi::initInfo(env, exports);
  wwnapi::initPlFit(env, exports);
  wwnapi::initEig(env, exports);
  wwnapi::initGemm(env, exports);
  wwnapi::initLowRank(env, exports);
  wwnapi::initFarms(env, exports);
  const char* hooks = std::getenv("WW_NATIVE_TEST_HOOKS");
  if (hooks != nullptr && std::strcmp(hooks, "1") == 0) {
    exports.Set("simulateAllocFailure", Napi::Function::New(env, wwnapi::guarded<SimulateAllocFailure>, "simulateAllocFailure"));
  }
  return exports;
}

}  // namespace

NODE_API_MODULE(ww_native, Init)
