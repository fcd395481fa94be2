// N-API surface of the engine: `new Engine(config)` (training: all networks and optimizers) and
// `new AnonymizerNet(config)` (inference: f_A alone), with promise-returning methods. Every
// libtorch call runs on the process's one compute thread (compute_thread.h), never on the JS
// thread nor libuv's pool: inputs are memcpy'd out of JS-owned typed arrays on the JS thread (no
// libtorch kernel there); outputs are returned in new JS-owned typed arrays (Electron forbids
// external buffers). One call at a time per object: a second concurrent call is rejected, not
// queued. dispose() frees the networks now instead of whenever the GC collects the object.
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>

#include "compute_thread.h"
#include "engine.h"
#include "engine_napi.h"
#include "losses.h"

namespace spact {
using namespace detail;

namespace {
UNetConfig parseUNetConfig(const Napi::Object& a) {
  UNetConfig cfg;
  cfg.widths = intList(a, "widths", cfg.widths);
  cfg.upsample = str(a, "upsample", cfg.upsample);
  cfg.batchNorm = boolean(a, "batchNorm", cfg.batchNorm);
  cfg.channelsLast = boolean(a, "channelsLast", cfg.channelsLast);
  return cfg;
}
}  // namespace

EngineConfig parseEngineConfig(const Napi::Object& c) {
  EngineConfig cfg;
  cfg.fA = parseUNetConfig(sub(c, "fA"));
  auto t = sub(c, "fT");
  cfg.fT.widths = intList(t, "widths", cfg.fT.widths);
  cfg.fT.blocks = intList(t, "blocks", cfg.fT.blocks);
  auto b = sub(c, "fB");
  cfg.fB.widths = intList(b, "widths", cfg.fB.widths);
  cfg.fB.blocks = intList(b, "blocks", cfg.fB.blocks);
  cfg.fB.bottleneck = boolean(b, "bottleneck", cfg.fB.bottleneck);
  cfg.fB.imagenetStem = boolean(b, "imagenetStem", cfg.fB.imagenetStem);
  cfg.fB.projDim = integer(b, "projDim", cfg.fB.projDim);
  cfg.numActions = integer(c, "numActions", cfg.numActions);
  cfg.multiLabelActions = boolean(c, "multiLabelActions", cfg.multiLabelActions);
  cfg.numPrivacy = integer(c, "numPrivacy", cfg.numPrivacy);
  cfg.budgetLoss = parseBudgetLoss(str(c, "budgetLoss", "ntxent"));
  cfg.freezeBudget = boolean(c, "freezeBudget", cfg.freezeBudget);
  cfg.temperature = num(c, "temperature", cfg.temperature);
  cfg.mocoQueue = integer(c, "mocoQueue", cfg.mocoQueue);
  cfg.mocoMomentum = num(c, "mocoMomentum", cfg.mocoMomentum);
  cfg.omega = num(c, "omega", cfg.omega);
  cfg.clipFrames = integer(c, "clipFrames", cfg.clipFrames);
  cfg.frameStride = integer(c, "frameStride", cfg.frameStride);
  cfg.sampler = parseSampler(str(c, "sampler", "random"));
  cfg.nearMax = integer(c, "nearMax", cfg.nearMax);
  cfg.farMin = integer(c, "farMin", cfg.farMin);
  cfg.distill = boolean(c, "distill", cfg.distill);
  cfg.distillTemperature = num(c, "distillTemperature", cfg.distillTemperature);
  cfg.distillTeacher = parseTeacher(str(c, "distillTeacher", "raw"));
  cfg.distillAdaptT = boolean(c, "distillAdaptT", cfg.distillAdaptT);
  if (c.Has("room") && c.Get("room").IsObject()) {
    auto r = sub(c, "room");
    cfg.room = boolean(r, "enabled", cfg.room);
    cfg.heatmaps = integer(r, "heatmaps", cfg.heatmaps);
    cfg.studentWidths = intList(r, "studentWidths", cfg.studentWidths);
    cfg.utilityPosWeight = num(r, "utilityPosWeight", cfg.utilityPosWeight);
    cfg.omegaId = num(r, "omegaId", cfg.omegaId);
    cfg.adaptStudent = boolean(r, "adaptStudent", cfg.adaptStudent);
    cfg.idCropW = integer(r, "idCropW", cfg.idCropW);
    cfg.idCropH = integer(r, "idCropH", cfg.idCropH);
    cfg.structureWeight = num(r, "structureWeight", cfg.structureWeight);
    cfg.structureRadius = integer(r, "structureRadius", cfg.structureRadius);
    cfg.initTarget = parseInitTarget(str(r, "initTarget", "identity"));
    cfg.detailGain = num(r, "detailGain", cfg.detailGain);
  }
  cfg.lrA = num(c, "lrA", cfg.lrA);
  cfg.lrT = num(c, "lrT", cfg.lrT);
  cfg.lrB = num(c, "lrB", cfg.lrB);
  cfg.weightDecay = num(c, "weightDecay", cfg.weightDecay);
  auto g = sub(c, "augment");
  cfg.augment.enabled = boolean(g, "enabled", cfg.augment.enabled);
  cfg.augment.cropMinScale = num(g, "cropMinScale", cfg.augment.cropMinScale);
  cfg.augment.flip = boolean(g, "flip", cfg.augment.flip);
  cfg.augment.jitter = num(g, "jitter", cfg.augment.jitter);
  cfg.augment.eraseProb = num(g, "eraseProb", cfg.augment.eraseProb);
  cfg.device = str(c, "device", cfg.device);
  cfg.threads = integer(c, "threads", cfg.threads);
  cfg.seed = integer(c, "seed", cfg.seed);
  return cfg;
}

namespace {

/** Copies a JS batch {frames, n, t, h, w, actions?, privacy?} into owned CPU tensors. */
Batch parseBatch(const Napi::Object& o, const EngineConfig& cfg) {
  Napi::Env env = o.Env();
  auto frames = o.Get("frames");
  if (!frames.IsTypedArray() || frames.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "[bad-input] batch.frames must be a Uint8Array");
  }
  auto f = frames.As<Napi::Uint8Array>();
  const int64_t n = integer(o, "n", -1), t = integer(o, "t", -1), h = integer(o, "h", -1), w = integer(o, "w", -1);
  if (n <= 0 || t <= 0 || h <= 0 || w <= 0) throw Napi::TypeError::New(env, "[bad-input] batch needs positive n, t, h, w");
  if (static_cast<int64_t>(f.ElementLength()) != n * t * h * w * 3) {
    throw Napi::RangeError::New(env, "[bad-input] batch.frames has " + std::to_string(f.ElementLength()) + " bytes, expected n*t*h*w*3 = " +
                                         std::to_string(n * t * h * w * 3));
  }
  Batch b;
  b.frames = CopyToTensor(f.Data(), f.ByteLength(), {n, t, h, w, 3}, torch::kUInt8);
  if (o.Has("actions") && !o.Get("actions").IsUndefined() && !o.Get("actions").IsNull()) {
    auto av = o.Get("actions");
    if (cfg.multiLabelActions) {
      if (!av.IsTypedArray() || av.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
        throw Napi::TypeError::New(env, "[bad-input] multi-label batch.actions must be a Float32Array [n*numActions]");
      }
      auto a = av.As<Napi::Float32Array>();
      if (static_cast<int64_t>(a.ElementLength()) != n * cfg.numActions) throw Napi::RangeError::New(env, "[bad-input] batch.actions has the wrong length");
      b.actions = CopyToTensor(a.Data(), a.ByteLength(), {n, cfg.numActions}, torch::kFloat32);
    } else {
      if (!av.IsTypedArray() || av.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
        throw Napi::TypeError::New(env, "[bad-input] batch.actions must be an Int32Array of class indices");
      }
      auto a = av.As<Napi::Int32Array>();
      if (static_cast<int64_t>(a.ElementLength()) != n) throw Napi::RangeError::New(env, "[bad-input] batch.actions must have n entries");
      std::vector<int64_t> labels(a.Data(), a.Data() + n);
      b.actions = CopyToTensor(labels.data(), labels.size() * sizeof(int64_t), {n}, torch::kLong);
    }
  }
  if (o.Has("privacy") && !o.Get("privacy").IsUndefined() && !o.Get("privacy").IsNull()) {
    auto pv = o.Get("privacy");
    if (!pv.IsTypedArray() || pv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw Napi::TypeError::New(env, "[bad-input] batch.privacy must be a Float32Array [n*numPrivacy]");
    }
    auto p = pv.As<Napi::Float32Array>();
    if (cfg.numPrivacy < 1 || static_cast<int64_t>(p.ElementLength()) != n * cfg.numPrivacy) {
      throw Napi::RangeError::New(env, "[bad-input] batch.privacy has the wrong length");
    }
    b.privacy = CopyToTensor(p.Data(), p.ByteLength(), {n, cfg.numPrivacy}, torch::kFloat32);
  }
  if (cfg.room) {
    // Room mode: pseudo-label heatmaps [n, K, h/4, w/4] and the person's box [n, 4] per frame.
    auto hv = o.Get("heatmaps");
    auto bv = o.Get("boxes");
    if (!hv.IsTypedArray() || hv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        static_cast<int64_t>(hv.As<Napi::Float32Array>().ElementLength()) != n * cfg.heatmaps * (h / 4) * (w / 4)) {
      throw Napi::TypeError::New(env, "[bad-input] room batches need heatmaps: a Float32Array of n*K*(h/4)*(w/4)");
    }
    if (!bv.IsTypedArray() || bv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        static_cast<int64_t>(bv.As<Napi::Float32Array>().ElementLength()) != n * 4) {
      throw Napi::TypeError::New(env, "[bad-input] room batches need boxes: a Float32Array of n*4");
    }
    auto hm = hv.As<Napi::Float32Array>();
    auto bx = bv.As<Napi::Float32Array>();
    b.heatmaps = CopyToTensor(hm.Data(), hm.ByteLength(), {n, cfg.heatmaps, h / 4, w / 4}, torch::kFloat32);
    b.boxes = CopyToTensor(bx.Data(), bx.ByteLength(), {n, 4}, torch::kFloat32);
  }
  return b;
}

/** Drops a reference on the compute thread, after the jobs queued before it: the networks are
 *  freed where libtorch runs, never under a running job (a job holds its own reference). */
template <typename T>
void ReleaseOnCompute(std::shared_ptr<T> p) {
  Process().Post([p = std::move(p)]() mutable { p.reset(); });
}

/** anonymize(frames, n, h, w) arguments → frames uint8 [n, h, w, 3] (copied on the JS thread). */
torch::Tensor FramesArg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber()) {
    throw Napi::TypeError::New(env, "[bad-input] anonymize(frames: Uint8Array, n, h, w)");
  }
  auto f = info[0].As<Napi::Uint8Array>();
  const int64_t n = info[1].As<Napi::Number>().Int64Value(), h = info[2].As<Napi::Number>().Int64Value(),
                w = info[3].As<Napi::Number>().Int64Value();
  if (n < 0 || h <= 0 || w <= 0 || static_cast<int64_t>(f.ElementLength()) != n * h * w * 3) {
    throw Napi::RangeError::New(env, "[bad-input] frames has " + std::to_string(f.ElementLength()) + " bytes, expected n*h*w*3 = " +
                                         std::to_string(n * h * w * 3));
  }
  return CopyToTensor(f.Data(), f.ByteLength(), {n, h, w, 3}, torch::kUInt8);
}

TaskResult tensorOf(torch::Tensor t) {
  TaskResult r;
  r.kind = TaskResult::kTensor;
  r.tensor = std::move(t);
  return r;
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod("initA", &EngineWrap::InitA),
                           InstanceMethod("initTB", &EngineWrap::InitTB),
                           InstanceMethod("stepA", &EngineWrap::StepA),
                           InstanceMethod("stepTB", &EngineWrap::StepTB),
                           InstanceMethod("evaluate", &EngineWrap::Evaluate),
                           InstanceMethod("anonymize", &EngineWrap::Anonymize),
                           InstanceMethod("save", &EngineWrap::Save),
                           InstanceMethod("load", &EngineWrap::Load),
                           InstanceMethod("describe", &EngineWrap::Describe),
                           InstanceMethod("fingerprint", &EngineWrap::Fingerprint),
                           InstanceMethod("setLearningRate", &EngineWrap::SetLearningRate),
                           InstanceMethod("setProfiling", &EngineWrap::SetProfiling),
                           InstanceMethod("dispose", &EngineWrap::Dispose),
                       });
  }

  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "[bad-input] new Engine(config) needs a config object");
    try {
      auto cfg = parseEngineConfig(info[0].As<Napi::Object>());
      const int64_t threads = cfg.threads;
      // Built on the compute thread: construction copies weights into their layouts in parallel.
      std::tie(engine_, description_) = CallOn(threads, [cfg = std::move(cfg)]() {
        auto e = std::make_shared<Engine>(cfg);
        Description d{e->device().str(), e->parameterCounts(), e->fA->divisor(), at::get_num_threads()};
        return std::make_pair(e, d);
      });
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw KindError(env, e);
    }
  }

 private:
  /** Throws for an engine whose dispose() was called. */
  void RequireOpen(Napi::Env env) const {
    if (!engine_) throw Napi::Error::New(env, "[bad-input] this engine was disposed; create a new one");
  }

  Napi::Value Run(const Napi::CallbackInfo& info, std::function<TaskResult()> task) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    bool expected = false;
    if (!busy_->compare_exchange_strong(expected, true)) {
      throw Napi::Error::New(env, "[busy] the engine is already running a step; await the previous call");
    }
    return RunOn(env, busy_, engine_->config().threads, std::move(task));
  }

  Batch BatchArg(const Napi::CallbackInfo& info) {
    RequireOpen(info.Env());
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "[bad-input] expected a batch object");
    return parseBatch(info[0].As<Napi::Object>(), engine_->config());
  }

  static TaskResult statsOf(Stats s) {
    TaskResult r;
    r.kind = TaskResult::kStats;
    r.stats = std::move(s);
    return r;
  }

  Napi::Value InitA(const Napi::CallbackInfo& info) {
    auto b = BatchArg(info);
    auto e = engine_;
    return Run(info, [e, b]() { return statsOf(e->initA(b)); });
  }
  Napi::Value InitTB(const Napi::CallbackInfo& info) {
    auto b = BatchArg(info);
    bool t = true, bb = true;
    if (info.Length() > 1 && info[1].IsObject()) {
      auto o = info[1].As<Napi::Object>();
      t = boolean(o, "updateT", true);
      bb = boolean(o, "updateB", true);
    }
    auto e = engine_;
    return Run(info, [e, b, t, bb]() { return statsOf(e->trainTB(b, t, bb)); });
  }
  Napi::Value StepA(const Napi::CallbackInfo& info) {
    auto b = BatchArg(info);
    auto e = engine_;
    return Run(info, [e, b]() { return statsOf(e->stepA(b)); });
  }
  Napi::Value StepTB(const Napi::CallbackInfo& info) {
    auto b = BatchArg(info);
    auto e = engine_;
    return Run(info, [e, b]() { return statsOf(e->stepTB(b)); });
  }
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    auto b = BatchArg(info);
    auto e = engine_;
    return Run(info, [e, b]() { return statsOf(e->evaluate(b)); });
  }
  Napi::Value Anonymize(const Napi::CallbackInfo& info) {
    auto frames = FramesArg(info);
    auto e = engine_;
    return Run(info, [e, frames]() { return tensorOf(e->anonymize(frames)); });
  }
  Napi::Value Save(const Napi::CallbackInfo& info) {
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
      throw Napi::TypeError::New(info.Env(), "[bad-input] save(path, meta)");
    }
    auto path = info[0].As<Napi::String>().Utf8Value(), meta = info[1].As<Napi::String>().Utf8Value();
    const bool weightsOnly = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    auto e = engine_;
    return Run(info, [e, path, meta, weightsOnly]() {
      e->save(path, meta, weightsOnly);
      return TaskResult{};
    });
  }
  Napi::Value Load(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "[bad-input] load(path, weightsOnly?)");
    auto path = info[0].As<Napi::String>().Utf8Value();
    const bool weightsOnly = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
    const bool onlyA = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    auto e = engine_;
    return Run(info, [e, path, weightsOnly, onlyA]() {
      TaskResult r;
      r.kind = TaskResult::kText;
      r.text = e->load(path, weightsOnly, onlyA);
      return r;
    });
  }
  Napi::Value Fingerprint(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    if (busy_->load()) throw Napi::Error::New(env, "[busy] the engine is running a step");
    auto e = engine_;
    Stats stats;
    try {
      stats = CallOn(e->config().threads, [e]() { return e->fingerprint(); });
    } catch (const std::exception& err) {
      throw KindError(env, err);
    }
    auto o = Napi::Object::New(env);
    for (const auto& [k, v] : stats) o.Set(k, Napi::Number::New(env, v));
    return o;
  }
  Napi::Value SetLearningRate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
      throw Napi::TypeError::New(env, "[bad-input] setLearningRate(\"A\"|\"T\"|\"B\", lr)");
    }
    RequireOpen(env);
    if (busy_->load()) throw Napi::Error::New(env, "[busy] the engine is running a step");
    try {
      auto e = engine_;
      auto which = info[0].As<Napi::String>().Utf8Value();
      const double lr = info[1].As<Napi::Number>().DoubleValue();
      CallOn(e->config().threads, [e, which, lr]() { e->setLearningRate(which, lr); });
    } catch (const std::exception& e) {
      throw KindError(env, e);
    }
    return env.Undefined();
  }
  Napi::Value SetProfiling(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(env, "[bad-input] setProfiling(on: boolean)");
    RequireOpen(env);
    if (busy_->load()) throw Napi::Error::New(env, "[busy] the engine is running a step");
    auto e = engine_;
    const bool on = info[0].As<Napi::Boolean>().Value();
    try {
      CallOn(e->config().threads, [e, on]() { e->setProfiling(on); });
    } catch (const std::exception& err) {
      throw KindError(env, err);
    }
    return env.Undefined();
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (engine_) ReleaseOnCompute(std::move(engine_));
    return info.Env().Undefined();
  }
  Napi::Value Describe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    const auto& d = description_;
    auto o = Napi::Object::New(env);
    o.Set("device", Napi::String::New(env, d.device));
    auto params = Napi::Object::New(env);
    for (const auto& [k, v] : d.parameters) params.Set(k, Napi::Number::New(env, v));
    o.Set("parameters", params);
    o.Set("divisor", Napi::Number::New(env, static_cast<double>(d.divisor)));
    o.Set("threads", Napi::Number::New(env, static_cast<double>(d.threads)));
    return o;
  }

  // Read once at construction: describe() never waits behind another engine's step.
  struct Description {
    std::string device;
    Stats parameters;
    int64_t divisor = 1, threads = 0;
  };
  std::shared_ptr<Engine> engine_;
  Description description_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

/**
 * `new AnonymizerNet({fA, device, threads})`: f_A alone, for inference. load(path) reads f_A's
 * weights from any SPAct checkpoint; anonymize() is the engine's anonymize() on the same weights.
 */
class AnonymizerWrap : public Napi::ObjectWrap<AnonymizerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "AnonymizerNet",
                       {
                           InstanceMethod("load", &AnonymizerWrap::Load),
                           InstanceMethod("anonymize", &AnonymizerWrap::Anonymize),
                           InstanceMethod("describe", &AnonymizerWrap::Describe),
                           InstanceMethod("fingerprint", &AnonymizerWrap::Fingerprint),
                           InstanceMethod("dispose", &AnonymizerWrap::Dispose),
                       });
  }

  explicit AnonymizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AnonymizerWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "[bad-input] new AnonymizerNet(config) needs a config object");
    try {
      auto c = info[0].As<Napi::Object>();
      auto fa = parseUNetConfig(sub(c, "fA"));
      auto device = str(c, "device", "auto");
      threads_ = integer(c, "threads", 0);
      std::tie(net_, device_, divisor_, appliedThreads_) = CallOn(threads_, [fa, device]() {
        auto net = std::make_shared<Anonymizer>(fa, device);
        return std::make_tuple(net, net->device().str(), net->fA->divisor(), static_cast<int64_t>(at::get_num_threads()));
      });
      parameters_ = static_cast<double>(countParameters(*net_->fA));
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw KindError(env, e);
    }
  }

 private:
  std::shared_ptr<Anonymizer> Open(Napi::Env env) const {
    if (!net_) throw Napi::Error::New(env, "[bad-input] this anonymizer was disposed; load the model again");
    return net_;
  }
  Napi::Value Run(const Napi::CallbackInfo& info, std::function<TaskResult()> task) {
    Napi::Env env = info.Env();
    bool expected = false;
    if (!busy_->compare_exchange_strong(expected, true)) {
      throw Napi::Error::New(env, "[busy] the anonymizer is already running; await the previous call");
    }
    return RunOn(env, busy_, threads_, std::move(task));
  }
  Napi::Value Load(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "[bad-input] load(path)");
    auto path = info[0].As<Napi::String>().Utf8Value();
    auto net = Open(info.Env());
    return Run(info, [net, path]() {
      TaskResult r;
      r.kind = TaskResult::kText;
      r.text = net->load(path);
      return r;
    });
  }
  Napi::Value Anonymize(const Napi::CallbackInfo& info) {
    auto net = Open(info.Env());
    auto frames = FramesArg(info);
    return Run(info, [net, frames]() { return tensorOf(net->anonymize(frames)); });
  }
  Napi::Value Fingerprint(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto net = Open(env);
    if (busy_->load()) throw Napi::Error::New(env, "[busy] the anonymizer is running");
    double fa = 0;
    try {
      fa = CallOn(threads_, [net]() { return net->fingerprint(); });
    } catch (const std::exception& err) {
      throw KindError(env, err);
    }
    auto o = Napi::Object::New(env);
    o.Set("fA", Napi::Number::New(env, fa));
    return o;
  }
  Napi::Value Describe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Open(env);
    auto o = Napi::Object::New(env);
    o.Set("device", Napi::String::New(env, device_));
    auto params = Napi::Object::New(env);
    params.Set("fA", Napi::Number::New(env, parameters_));
    o.Set("parameters", params);
    o.Set("divisor", Napi::Number::New(env, static_cast<double>(divisor_)));
    o.Set("threads", Napi::Number::New(env, static_cast<double>(appliedThreads_)));
    return o;
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (net_) ReleaseOnCompute(std::move(net_));
    return info.Env().Undefined();
  }

  std::shared_ptr<Anonymizer> net_;
  std::string device_;
  int64_t divisor_ = 1, threads_ = 0, appliedThreads_ = 0;
  double parameters_ = 0;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

Napi::Value ReadCheckpointMeta(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "readCheckpointMeta(path)");
  try {
    return Napi::String::New(env, Engine::readMeta(info[0].As<Napi::String>().Utf8Value()));
  } catch (const std::exception& e) {
    throw KindError(env, e);
  }
}

/** NT-Xent value and autograd gradient in float64, for the finite-difference test. */
Napi::Value NtXentDebug(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto z1a = info[0].As<Napi::Float64Array>();
  auto z2a = info[1].As<Napi::Float64Array>();
  const int64_t n = info[2].As<Napi::Number>().Int64Value(), d = info[3].As<Napi::Number>().Int64Value();
  const double tau = info[4].As<Napi::Number>().DoubleValue();
  if (static_cast<int64_t>(z1a.ElementLength()) != n * d || static_cast<int64_t>(z2a.ElementLength()) != n * d) {
    throw Napi::RangeError::New(env, "ntXent: arrays must hold n*d values");
  }
  struct Result {
    double loss;
    std::vector<double> grad1, grad2;
  };
  const double* p1 = z1a.Data();
  const double* p2 = z2a.Data();
  Result r;
  try {
    r = CallOn(0, [p1, p2, n, d, tau]() {
    auto z1 = CopyToTensor(p1, n * d * sizeof(double), {n, d}, torch::kFloat64).set_requires_grad(true);
    auto z2 = CopyToTensor(p2, n * d * sizeof(double), {n, d}, torch::kFloat64).set_requires_grad(true);
    auto loss = ntXent(z1, z2, tau);
    loss.backward();
    auto g1 = z1.grad().contiguous(), g2 = z2.grad().contiguous();
    return Result{loss.item<double>(), std::vector<double>(g1.data_ptr<double>(), g1.data_ptr<double>() + n * d),
                  std::vector<double>(g2.data_ptr<double>(), g2.data_ptr<double>() + n * d)};
    });
  } catch (const std::exception& e) {
    throw KindError(env, e);
  }
  auto out = Napi::Object::New(env);
  out.Set("loss", Napi::Number::New(env, r.loss));
  auto g1 = Napi::Float64Array::New(env, n * d), g2 = Napi::Float64Array::New(env, n * d);
  std::memcpy(g1.Data(), r.grad1.data(), n * d * sizeof(double));
  std::memcpy(g2.Data(), r.grad2.data(), n * d * sizeof(double));
  out.Set("grad1", g1);
  out.Set("grad2", g2);
  return out;
}

}  // namespace

/** threadAudit() → {onCompute, offCompute, offNames, threadChanges, appliedThreads}: where engine
 *  work ran and with how many threads. */
Napi::Value ThreadAuditInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto& a = threadAudit();
  auto o = Napi::Object::New(env);
  o.Set("onCompute", Napi::Number::New(env, static_cast<double>(a.onCompute.load())));
  o.Set("offCompute", Napi::Number::New(env, static_cast<double>(a.offCompute.load())));
  auto names = Napi::Array::New(env);
  {
    std::lock_guard<std::mutex> lock(a.mu);
    for (size_t i = 0; i < a.offNames.size(); ++i) names.Set(static_cast<uint32_t>(i), a.offNames[i]);
  }
  o.Set("offNames", names);
  o.Set("threadChanges", Napi::Number::New(env, static_cast<double>(Process().ThreadChanges())));
  o.Set("appliedThreads", Napi::Number::New(env, static_cast<double>(Process().AppliedThreads())));
  return o;
}

void RegisterEngine(Napi::Env env, Napi::Object exports) {
  exports.Set("threadAudit", Napi::Function::New(env, ThreadAuditInfo, "threadAudit"));
  exports.Set("Engine", EngineWrap::Define(env));
  exports.Set("AnonymizerNet", AnonymizerWrap::Define(env));
  exports.Set("readCheckpointMeta", Napi::Function::New(env, ReadCheckpointMeta, "readCheckpointMeta"));
  exports.Set("ntXentDebug", Napi::Function::New(env, NtXentDebug, "ntXentDebug"));
}

}  // namespace spact
