#include "bench.h"

#include <chrono>
#include <cmath>
#include <functional>

#include "engine.h"
#include "engine_napi.h"
#include "losses.h"

namespace spact {
namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

Batch randomBatch(const EngineConfig& cfg, int64_t n, int64_t t, int64_t h, int64_t w) {
  Batch b;
  b.frames = torch::randint(0, 256, {n, t, h, w, 3}, torch::kUInt8);
  b.actions = torch::randint(0, cfg.numActions, {n}, torch::kLong);
  return b;
}

/** The engine's own step functions in a C++ loop: the floor for JS/N-API overhead. */
double bareMinimaxMs(const EngineConfig& cfg, int64_t iters, int64_t n, int64_t t, int64_t h, int64_t w) {
  Engine e(cfg);
  auto b1 = randomBatch(cfg, n, t, h, w), b2 = randomBatch(cfg, n, t, h, w);
  e.stepA(b1), e.stepTB(b2);  // warm-up
  auto t0 = Clock::now();
  for (int64_t i = 0; i < iters; ++i) {
    e.stepA(b1);
    e.stepTB(b2);
  }
  return msSince(t0) / static_cast<double>(iters);
}

/**
 * The same minimax math written the straightforward way: ConvTranspose2d upsampling in f_A,
 * every parameter keeps requires_grad (weight gradients of the frozen nets are computed and
 * thrown away), f_A's graph is built in step 2 too, no augmentation short-cuts.
 */
double naiveMinimaxMs(EngineConfig cfg, int64_t iters, int64_t n, int64_t t, int64_t h, int64_t w) {
  cfg.fA.upsample = "transpose";
  cfg.fA.channelsLast = false;
  cfg.augment.enabled = false;
  torch::manual_seed(static_cast<uint64_t>(cfg.seed));
  UNet fA(cfg.fA);
  R3D fT(cfg.fT, cfg.numActions);
  ResNet2d fB(cfg.fB);
  Projection proj(fB->featureDim, cfg.fB.projDim);
  torch::optim::Adam optA(fA->parameters(), cfg.lrA), optT(fT->parameters(), cfg.lrT);
  auto bp = fB->parameters();
  for (auto& p : proj->parameters()) bp.push_back(p);
  torch::optim::Adam optB(bp, cfg.lrB);
  auto toFloat = [&](const torch::Tensor& u8) { return u8.permute({0, 1, 4, 2, 3}).to(torch::kFloat32).div(255.0); };
  auto b1 = randomBatch(cfg, n, t, h, w), b2 = randomBatch(cfg, n, t, h, w);
  auto forwardAll = [&](const Batch& b) {
    auto x = toFloat(b.frames);
    auto a = fA->forward(x.reshape({n * t, 3, h, w})).reshape({n, t, 3, h, w});
    auto clip = a.slice(1, 0, cfg.clipFrames).permute({0, 2, 1, 3, 4});
    auto lt = actionLoss(fT->forward(clip), b.actions, false);
    auto f1 = a.select(1, 0), f2 = a.select(1, t - 1);
    auto z = proj->forward(fB->forward(torch::cat({f1, f2}, 0)));
    auto lb = ntXent(z.slice(0, 0, n), z.slice(0, n), cfg.temperature);
    return std::make_pair(lt, lb);
  };
  auto iteration = [&]() {
    auto [lt, lb] = forwardAll(b1);
    optA.zero_grad(), optT.zero_grad(), optB.zero_grad();
    (lt - cfg.omega * lb).backward();
    optA.step();
    auto [lt2, lb2] = forwardAll(b2);
    optA.zero_grad(), optT.zero_grad(), optB.zero_grad();
    (lt2 + lb2).backward();
    optT.step();
    optB.step();
  };
  iteration();  // warm-up
  auto t0 = Clock::now();
  for (int64_t i = 0; i < iters; ++i) iteration();
  return msSince(t0) / static_cast<double>(iters);
}

/** size³ multiply-adds either through torch::mm (BLAS) or as a 1x1 convolution (oneDNN). */
double gemmGflops(int64_t size, int64_t iters, bool viaConv) {
  torch::NoGradGuard ng;
  torch::Tensor a, b, c;
  std::function<torch::Tensor()> op;
  if (viaConv) {
    // [1, size, s, s] input with s² = size pixels, 1x1 kernel [size, size]: the same GEMM.
    const auto side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(size))));
    a = torch::randn({1, size, side, side}).contiguous(at::MemoryFormat::ChannelsLast);
    b = torch::randn({size, size, 1, 1}).contiguous(at::MemoryFormat::ChannelsLast);
    op = [&]() { return torch::conv2d(a, b); };
    const double flops = 2.0 * static_cast<double>(size) * static_cast<double>(size) * static_cast<double>(side * side);
    c = op();
    auto t0 = Clock::now();
    for (int64_t i = 0; i < iters; ++i) c = op();
    return flops * static_cast<double>(iters) / (msSince(t0) / 1000.0) / 1e9;
  }
  a = torch::randn({size, size});
  b = torch::randn({size, size});
  c = torch::mm(a, b);  // warm-up
  auto t0 = Clock::now();
  for (int64_t i = 0; i < iters; ++i) c = torch::mm(a, b);
  const double s = msSince(t0) / 1000.0;
  return 2.0 * static_cast<double>(size * size * size) * static_cast<double>(iters) / s / 1e9;
}

class BenchWorker : public Napi::AsyncWorker {
 public:
  BenchWorker(Napi::Env env, std::function<double()> fn)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), fn_(std::move(fn)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      value_ = fn_();
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), value_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<double()> fn_;
  double value_ = 0;
};

Napi::Value Queue(Napi::Env env, std::function<double()> fn) {
  auto* w = new BenchWorker(env, std::move(fn));
  auto p = w->Promise();
  w->Queue();
  return p;
}

/** benchMinimax(config, {variant: 'bare'|'naive', iterations, n, t, h, w}) → ms per iteration. */
Napi::Value BenchMinimax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto cfg = parseEngineConfig(info[0].As<Napi::Object>());
  auto o = info[1].As<Napi::Object>();
  const std::string variant = o.Get("variant").As<Napi::String>().Utf8Value();
  const int64_t iters = o.Get("iterations").As<Napi::Number>().Int64Value();
  const int64_t n = o.Get("n").As<Napi::Number>().Int64Value(), t = o.Get("t").As<Napi::Number>().Int64Value();
  const int64_t h = o.Get("h").As<Napi::Number>().Int64Value(), w = o.Get("w").As<Napi::Number>().Int64Value();
  return Queue(env, [=]() {
    if (cfg.threads > 0) at::set_num_threads(static_cast<int>(cfg.threads));
    return variant == "naive" ? naiveMinimaxMs(cfg, iters, n, t, h, w) : bareMinimaxMs(cfg, iters, n, t, h, w);
  });
}

/** benchGemm(size, iterations, threads, via: 'mm'|'conv') → GFLOP/s of a square float32 GEMM. */
Napi::Value BenchGemm(const Napi::CallbackInfo& info) {
  const int64_t size = info[0].As<Napi::Number>().Int64Value(), iters = info[1].As<Napi::Number>().Int64Value();
  const int threads = info[2].As<Napi::Number>().Int32Value();
  const bool viaConv = info.Length() > 3 && info[3].IsString() && info[3].As<Napi::String>().Utf8Value() == "conv";
  return Queue(info.Env(), [=]() {
    if (threads > 0) at::set_num_threads(threads);
    return gemmGflops(size, iters, viaConv);
  });
}

}  // namespace

void RegisterBench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchMinimax", Napi::Function::New(env, BenchMinimax, "benchMinimax"));
  exports.Set("benchGemm", Napi::Function::New(env, BenchGemm, "benchGemm"));
}

}  // namespace spact
