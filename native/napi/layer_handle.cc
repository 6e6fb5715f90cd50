#include "napi/layer_handle.h"

#include <atomic>
#include <new>
#include <string>
#include <utility>

#include "napi/common.h"

namespace wwnapi {
namespace {

std::atomic<int64_t> live{0};
std::atomic<uint64_t> finishes{0};

class LayerHandle : public Napi::ObjectWrap<LayerHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "LayerHandle", {InstanceMethod<&LayerHandle::Finish>("finish"), InstanceMethod<&LayerHandle::Release>("release")});
  }

  // Constructed empty (a `new` from JS gives a handle that holds nothing); adopt() fills it.
  explicit LayerHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LayerHandle>(info) {}
  ~LayerHandle() override { drop(); }  // the finalizer: a handle JS dropped unpins its matrices

  void adopt(Napi::Array pins, std::vector<ww::MatrixView> views, ww::LayerOptions opts, LayerToJs toJs) {
    pins_ = Napi::Persistent(pins.As<Napi::Object>());
    views_ = std::move(views);
    opts_ = std::move(opts);
    toJs_ = toJs;
    held_ = true;
    live.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  // finish(reason): the layer by ?gesdd, with `reason` as its fallback. The worker pins the matrices
  // itself and owns copies of the views, so release() (or the finalizer) may run while it works.
  Napi::Value Finish(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!held_) throwUsage(env, "layer handle: finish() on a released handle");
    if (finishing_) throwUsage(env, "layer handle: finish() was already called");
    if (info.Length() < 1 || !info[0].IsString()) throwUsage(env, "layer handle: finish(reason) needs the reason as a string");
    std::string why = info[0].As<Napi::String>().Utf8Value();
    try {
      auto compute = [views = views_, opts = opts_, why = std::move(why)](ww::LayerSpectrum& out) {
        return ww::finishLayerWithGesdd(views, opts, why, out);
      };
      Napi::Value promise = runAsync<ww::LayerSpectrum>(env, pins_.Value(), std::move(compute), toJs_);
      finishing_ = true;
      finishes.fetch_add(1, std::memory_order_relaxed);
      return promise;
    } catch (const std::bad_alloc&) {
      throw makeError(env, "E_NOMEM", "out of memory in the native addon");  // as guarded() in common.h
    }
  }

  Napi::Value Release(const Napi::CallbackInfo& info) {
    drop();
    return info.Env().Undefined();
  }

  void drop() {
    if (!held_) return;
    held_ = false;
    pins_.Reset();
    views_ = {};
    live.fetch_sub(1, std::memory_order_relaxed);
  }

  Napi::ObjectReference pins_;
  std::vector<ww::MatrixView> views_;
  ww::LayerOptions opts_;
  LayerToJs toJs_ = nullptr;
  bool held_ = false, finishing_ = false;
};

}  // namespace

Napi::Object newLayerHandle(Napi::Env env, Napi::Array pins, std::vector<ww::MatrixView> views, ww::LayerOptions opts, LayerToJs toJs) {
  Napi::Object h = env.GetInstanceData<Napi::FunctionReference>()->New({});
  LayerHandle::Unwrap(h)->adopt(pins, std::move(views), std::move(opts), toJs);
  return h;
}

int64_t liveLayerHandles() { return live.load(std::memory_order_relaxed); }
uint64_t finishedLayers() { return finishes.load(std::memory_order_relaxed); }

void initLayerHandle(Napi::Env env, Napi::Object /*exports*/) {
  // the class is not exported: handles come only from layerSpectrum (one constructor per env)
  env.SetInstanceData<Napi::FunctionReference>(new Napi::FunctionReference(Napi::Persistent(LayerHandle::Define(env))));
}

}  // namespace wwnapi
