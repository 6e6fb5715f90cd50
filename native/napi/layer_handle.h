// A layer kept between its first rung and a check that needs the power-law fit (engine/route-guard.ts):
// layerSpectrum(mats, {verify: true}) returns, with the values of a layer left on a Gram route, a
// handle that pins the layer's typed arrays (the stored bytes themselves, not a copy) and the options
// it ran with. If the check rejects the Gram values, handle.finish(reason) runs the last rung
// (core/spectrum.h finishLayerWithGesdd) on those matrices on the libuv pool; otherwise
// handle.release() unpins them. A handle dropped without release() is unpinned by its finalizer.
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

#include "core/spectrum.h"

namespace wwnapi {

using LayerToJs = Napi::Value (*)(Napi::Env, ww::LayerSpectrum&);

// `pins`: an array no one else holds, of the typed arrays `views` point into.
Napi::Object newLayerHandle(Napi::Env env, Napi::Array pins, std::vector<ww::MatrixView> views, ww::LayerOptions opts, LayerToJs toJs);

// Handles that still pin their matrices, and finish() calls, since the addon loaded (tests).
int64_t liveLayerHandles();
uint64_t finishedLayers();

void initLayerHandle(Napi::Env env, Napi::Object exports);

}  // namespace wwnapi
