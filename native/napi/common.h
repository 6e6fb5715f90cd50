// Shared N-API plumbing: turning core Status into JS errors, checking arguments, and running a
// core computation either synchronously or on the libuv pool behind a Promise.
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace wwnapi {

// A JS Error carrying `code` (E_EMPTY, E_LAPACK, …); the TS layer rewraps it as WeightWatcherError.
inline Napi::Error makeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

inline Napi::Error makeError(Napi::Env env, const ww::Status& st) { return makeError(env, ww::codeName(st.code), st.message); }

[[noreturn]] inline void throwUsage(Napi::Env env, const std::string& message) { throw makeError(env, "E_USAGE", message); }

// Test hook (exported only with WW_NATIVE_TEST_HOOKS=1, see addon.cc): make the next allocation at
// one site throw std::bad_alloc, so tests can prove it surfaces as E_NOMEM instead of aborting.
enum class FailSite : int { None = 0, Arguments = 1, Compute = 2, Result = 3 };

inline std::atomic<int>& simulatedFailure() {
  static std::atomic<int> site{0};
  return site;
}

inline void maybeSimulateAllocFailure(FailSite site) {
  int expected = static_cast<int>(site);
  if (simulatedFailure().load(std::memory_order_relaxed) == expected && simulatedFailure().compare_exchange_strong(expected, 0))
    throw std::bad_alloc();
}

// Every exported function runs inside this guard: an exception that is not already a JS error
// (std::bad_alloc from an argument copy or a result conversion, any std::exception, anything
// else) becomes a typed JS error instead of reaching N-API, where it would call std::terminate.
template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return Fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw makeError(info.Env(), "E_NOMEM", "out of memory in the native addon");
  } catch (const std::exception& e) {
    throw makeError(info.Env(), "E_INTERNAL", std::string("internal error in the native addon: ") + e.what());
  } catch (...) {
    throw makeError(info.Env(), "E_INTERNAL", "internal error in the native addon: an unknown exception was thrown");
  }
}

// A positive integer argument that fits in size_t (JS numbers above 2^53 are rejected).
inline size_t requireDim(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throwUsage(env, std::string("expected ") + name + " to be a positive integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1) || d != static_cast<double>(static_cast<long long>(d)) || d > 9007199254740991.0)
    throwUsage(env, std::string("expected ") + name + " to be a positive integer, got " + std::to_string(d));
  return static_cast<size_t>(d);
}

// A row-major matrix passed as (typedArray, rows, cols): Float32Array or Float64Array, read in place.
struct MatrixArg {
  const void* data = nullptr;
  bool isFloat32 = false;
  size_t rows = 0, cols = 0;
};

inline MatrixArg matrixArg(const Napi::CallbackInfo& info, size_t index, const std::string& fn) {
  Napi::Env env = info.Env();
  if (info.Length() < index + 3 || !info[index].IsTypedArray())
    throwUsage(env, fn + "(data, rows, cols, …): data must be a Float32Array or Float64Array");
  Napi::TypedArray ta = info[index].As<Napi::TypedArray>();
  MatrixArg m;
  m.rows = requireDim(env, info[index + 1], "rows");
  m.cols = requireDim(env, info[index + 2], "cols");
  if (m.rows > SIZE_MAX / m.cols || ta.ElementLength() != m.rows * m.cols)
    throwUsage(env, fn + ": data has " + std::to_string(ta.ElementLength()) + " elements, expected rows*cols = " + std::to_string(m.rows) + "*" +
                        std::to_string(m.cols));
  switch (ta.TypedArrayType()) {
    case napi_float32_array:
      m.isFloat32 = true;
      m.data = ta.As<Napi::Float32Array>().Data();
      break;
    case napi_float64_array: m.data = ta.As<Napi::Float64Array>().Data(); break;
    default: throwUsage(env, fn + ": data must be a Float32Array or Float64Array");
  }
  return m;
}

// A Float64Array argument, copied (fits take small vectors and the caller may reuse its buffer).
inline std::vector<double> float64ArgCopy(const Napi::CallbackInfo& info, size_t index, const std::string& usage) {
  if (info.Length() <= index || !info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throwUsage(info.Env(), usage);
  Napi::Float64Array a = info[index].As<Napi::Float64Array>();
  maybeSimulateAllocFailure(FailSite::Arguments);
  return std::vector<double>(a.Data(), a.Data() + a.ElementLength());
}

inline Napi::Object optionsArg(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() > index && info[index].IsObject()) return info[index].As<Napi::Object>();
  if (info.Length() > index && !info[index].IsUndefined() && !info[index].IsNull()) throwUsage(info.Env(), "expected an options object");
  return Napi::Object::New(info.Env());
}

// Runs a core computation and turns any exception it lets escape into a Status, so no C++
// exception reaches N-API (which would abort the process): bad_alloc is out of memory, anything
// else is an internal error (a bug).
template <typename Result>
ww::Status guardedCompute(const std::function<ww::Status(Result&)>& compute, Result& result) {
  try {
    maybeSimulateAllocFailure(FailSite::Compute);
    return compute(result);
  } catch (const std::bad_alloc&) {
    return ww::Status::error(ww::Code::Alloc, "out of memory");
  } catch (const std::exception& e) {
    return ww::Status::error(ww::Code::Internal, std::string("internal error in the native addon: ") + e.what());
  } catch (...) {
    return ww::Status::error(ww::Code::Internal, "internal error in the native addon: an unknown exception was thrown");
  }
}

// Runs `compute` (pure C++, no N-API) on a worker thread and settles a Promise with `toJs(result)`.
// `keepAlive` pins the input typed array so it cannot be collected while the worker reads it.
template <typename Result>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Compute = std::function<ww::Status(Result&)>;
  using ToJs = std::function<Napi::Value(Napi::Env, Result&)>;

  PromiseWorker(Napi::Env env, Napi::Value keepAlive, Compute compute, ToJs toJs)
      : Napi::AsyncWorker(env, "weightwatcher"), deferred_(Napi::Promise::Deferred::New(env)), compute_(std::move(compute)), toJs_(std::move(toJs)) {
    if (keepAlive.IsObject()) keepAlive_ = Napi::Persistent(keepAlive.As<Napi::Object>());
  }

  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override { status_ = guardedCompute(compute_, result_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.isOk()) {
      deferred_.Reject(makeError(env, status_).Value());
      return;
    }
    try {
      maybeSimulateAllocFailure(FailSite::Result);
      deferred_.Resolve(toJs_(env, result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::bad_alloc&) {
      deferred_.Reject(makeError(env, "E_NOMEM", "out of memory in the native addon").Value());
    } catch (const std::exception& e) {
      deferred_.Reject(makeError(env, "E_INTERNAL", std::string("internal error in the native addon: ") + e.what()).Value());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference keepAlive_;
  Compute compute_;
  ToJs toJs_;
  Result result_{};
  ww::Status status_;
};

// The sync twin: same compute and conversion, on the calling thread, throwing on failure.
template <typename Result>
Napi::Value runSync(Napi::Env env, const std::function<ww::Status(Result&)>& compute, const std::function<Napi::Value(Napi::Env, Result&)>& toJs) {
  Result result{};
  const ww::Status st = guardedCompute(compute, result);
  if (!st.isOk()) throw makeError(env, st);
  maybeSimulateAllocFailure(FailSite::Result);
  return toJs(env, result);
}

template <typename Result>
Napi::Value runAsync(Napi::Env env, Napi::Value keepAlive, std::function<ww::Status(Result&)> compute,
                     std::function<Napi::Value(Napi::Env, Result&)> toJs) {
  auto* worker = new PromiseWorker<Result>(env, keepAlive, std::move(compute), std::move(toJs));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

inline Napi::Float64Array toFloat64Array(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array out = Napi::Float64Array::New(env, v.size());
  std::copy(v.begin(), v.end(), out.Data());
  return out;
}

// The per-candidate arrays of a power-law scan (plots): xmins, alphas, Ds, sigmas.
inline void setScanArrays(Napi::Env env, Napi::Object o, const std::vector<double>& xmins, const std::vector<double>& alphas,
                          const std::vector<double>& Ds, const std::vector<double>& sigmas) {
  if (xmins.empty()) return;
  o.Set("xmins", toFloat64Array(env, xmins));
  o.Set("alphas", toFloat64Array(env, alphas));
  o.Set("Ds", toFloat64Array(env, Ds));
  o.Set("sigmas", toFloat64Array(env, sigmas));
}

void initSpectrum(Napi::Env env, Napi::Object exports);
void initPowerLaw(Napi::Env env, Napi::Object exports);
void initInfo(Napi::Env env, Napi::Object exports);
void initPlFit(Napi::Env env, Napi::Object exports);
void initEig(Napi::Env env, Napi::Object exports);
void initGemm(Napi::Env env, Napi::Object exports);
void initLowRank(Napi::Env env, Napi::Object exports);

}  // namespace wwnapi
