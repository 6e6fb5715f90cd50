#include <napi.h>

#include "napi/common.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  wwnapi::initSpectrum(env, exports);
  wwnapi::initPowerLaw(env, exports);
  wwnapi::initInfo(env, exports);
  wwnapi::initPlFit(env, exports);
  wwnapi::initEig(env, exports);
  wwnapi::initGemm(env, exports);
  wwnapi::initLowRank(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(ww_native, Init)
