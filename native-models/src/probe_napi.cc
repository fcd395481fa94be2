// N-API surface of the evaluation probes: `new Probe(config)`, `train(batch)` and
// `predict(batch)` returning promises, run on the process's compute thread (compute_thread.h).
#include <napi.h>

#include "compute_thread.h"
#include "probe.h"
#include "probe_napi.h"

namespace spact {
using namespace detail;
namespace {

ProbeConfig parseProbeConfig(const Napi::Object& c) {
  ProbeConfig p;
  p.kind = str(c, "kind", p.kind);
  p.numOutputs = integer(c, "numOutputs", p.numOutputs);
  p.multiLabel = boolean(c, "multiLabel", p.multiLabel);
  p.widths = intList(c, "widths", p.widths);
  p.blocks = intList(c, "blocks", p.blocks);
  p.clipFrames = integer(c, "clipFrames", p.clipFrames);
  p.frameStride = integer(c, "frameStride", p.frameStride);
  p.framesPerClip = integer(c, "framesPerClip", p.framesPerClip);
  p.histBins = integer(c, "histBins", p.histBins);
  p.lr = num(c, "lr", p.lr);
  p.augment = boolean(c, "augment", p.augment);
  p.device = str(c, "device", p.device);
  p.threads = integer(c, "threads", p.threads);
  p.seed = integer(c, "seed", p.seed);
  return p;
}

torch::Tensor framesArg(const Napi::Object& o) {
  Napi::Env env = o.Env();
  auto fv = o.Get("frames");
  if (!fv.IsTypedArray() || fv.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "[bad-input] batch.frames must be a Uint8Array");
  }
  auto f = fv.As<Napi::Uint8Array>();
  const int64_t n = integer(o, "n", -1), t = integer(o, "t", -1), h = integer(o, "h", -1), w = integer(o, "w", -1);
  if (n <= 0 || t <= 0 || h <= 0 || w <= 0 || static_cast<int64_t>(f.ElementLength()) != n * t * h * w * 3) {
    throw Napi::RangeError::New(env, "[bad-input] batch.frames does not hold n*t*h*w*3 bytes");
  }
  return CopyToTensor(f.Data(), f.ByteLength(), {n, t, h, w, 3}, torch::kUInt8);
}

class ProbeWrap : public Napi::ObjectWrap<ProbeWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Probe", {InstanceMethod("train", &ProbeWrap::Train), InstanceMethod("predict", &ProbeWrap::Predict)});
  }

  explicit ProbeWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProbeWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "[bad-input] new Probe(config)");
    try {
      auto cfg = parseProbeConfig(info[0].As<Napi::Object>());
      probe_ = CallOn(cfg.threads, [cfg]() { return std::make_shared<Probe>(cfg); });
    } catch (const std::exception& e) {
      throw KindError(env, e);
    }
  }

 private:
  Napi::Value Run(const Napi::CallbackInfo& info, std::function<TaskResult()> task) {
    bool expected = false;
    if (!busy_->compare_exchange_strong(expected, true)) throw Napi::Error::New(info.Env(), "[busy] the probe is busy");
    return RunOn(info.Env(), busy_, probe_->config().threads, std::move(task));
  }

  Napi::Value Train(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "[bad-input] train(batch)");
    auto o = info[0].As<Napi::Object>();
    auto frames = framesArg(o);
    const int64_t n = frames.size(0), k = probe_->config().numOutputs;
    torch::Tensor targets;
    auto tv = o.Get("targets");
    if (probe_->config().multiLabel) {
      if (!tv.IsTypedArray() || tv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
          static_cast<int64_t>(tv.As<Napi::Float32Array>().ElementLength()) != n * k) {
        throw Napi::TypeError::New(env, "[bad-input] targets must be a Float32Array of n*numOutputs");
      }
      auto ta = tv.As<Napi::Float32Array>();
      targets = CopyToTensor(ta.Data(), ta.ByteLength(), {n, k}, torch::kFloat32);
    } else {
      if (!tv.IsTypedArray() || tv.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
          static_cast<int64_t>(tv.As<Napi::Int32Array>().ElementLength()) != n) {
        throw Napi::TypeError::New(env, "[bad-input] targets must be an Int32Array of n class indices");
      }
      auto ta = tv.As<Napi::Int32Array>();
      std::vector<int64_t> classes(ta.Data(), ta.Data() + n);
      for (auto c : classes) {
        if (c < 0 || c >= k) throw Napi::RangeError::New(env, "[bad-input] target class out of range");
      }
      targets = CopyToTensor(classes.data(), classes.size() * sizeof(int64_t), {n}, torch::kLong);
    }
    auto p = probe_;
    return Run(info, [p, frames, targets]() {
      TaskResult r;
      r.kind = TaskResult::kStats;
      r.stats["loss"] = p->train(frames, targets);
      return r;
    });
  }

  Napi::Value Predict(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "[bad-input] predict(batch)");
    auto frames = framesArg(info[0].As<Napi::Object>());
    auto p = probe_;
    return Run(info, [p, frames]() {
      TaskResult r;
      r.kind = TaskResult::kFloats;
      r.tensor = p->predict(frames).to(torch::kFloat32).contiguous();
      return r;
    });
  }

  std::shared_ptr<Probe> probe_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

void RegisterProbe(Napi::Env env, Napi::Object exports) { exports.Set("Probe", ProbeWrap::Define(env)); }

}  // namespace spact
