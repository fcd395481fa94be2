#include "bench.h"

#include <chrono>
#include <cmath>
#include <functional>

#include "compute_thread.h"
#include "engine.h"
#include "engine_napi.h"

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

/** Runs a benchmark on the process's compute thread, as the engine's own work runs. */
Napi::Value Queue(Napi::Env env, int64_t threads, std::function<double()> fn) {
  return detail::RunOn(env, nullptr, threads, [fn = std::move(fn)]() {
    detail::TaskResult r;
    r.kind = detail::TaskResult::kNumber;
    r.number = fn();
    return r;
  });
}

/** benchMinimax(config, {variant: 'bare', iterations, n, t, h, w}) → ms per iteration. The
 *  same-work comparison with PyTorch is bench/torch-reference.py. */
Napi::Value BenchMinimax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto cfg = parseEngineConfig(info[0].As<Napi::Object>());
  auto o = info[1].As<Napi::Object>();
  const std::string variant = o.Get("variant").As<Napi::String>().Utf8Value();
  const int64_t iters = o.Get("iterations").As<Napi::Number>().Int64Value();
  const int64_t n = o.Get("n").As<Napi::Number>().Int64Value(), t = o.Get("t").As<Napi::Number>().Int64Value();
  const int64_t h = o.Get("h").As<Napi::Number>().Int64Value(), w = o.Get("w").As<Napi::Number>().Int64Value();
  return Queue(env, cfg.threads, [=]() {
    if (variant != "bare") throw std::invalid_argument("benchMinimax variant must be \"bare\"");
    return bareMinimaxMs(cfg, iters, n, t, h, w);
  });
}

/** benchGemm(size, iterations, threads, via: 'mm'|'conv') → GFLOP/s of a square float32 GEMM. */
Napi::Value BenchGemm(const Napi::CallbackInfo& info) {
  const int64_t size = info[0].As<Napi::Number>().Int64Value(), iters = info[1].As<Napi::Number>().Int64Value();
  const int threads = info[2].As<Napi::Number>().Int32Value();
  const bool viaConv = info.Length() > 3 && info[3].IsString() && info[3].As<Napi::String>().Utf8Value() == "conv";
  return Queue(info.Env(), threads, [=]() {
    return gemmGflops(size, iters, viaConv);
  });
}

}  // namespace

void RegisterBench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchMinimax", Napi::Function::New(env, BenchMinimax, "benchMinimax"));
  exports.Set("benchGemm", Napi::Function::New(env, BenchGemm, "benchGemm"));
}

}  // namespace spact
