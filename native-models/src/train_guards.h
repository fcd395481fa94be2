#pragma once
// Guards used by the training steps (engine.cc, room.cc): frozen networks keep their running
// statistics and get no weight gradients while a step runs through them; a clock for profiling.
#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace spact {

/**
 * Runs modules with BatchNorm on batch statistics (train mode) without letting the pass change
 * them: running statistics are restored on exit. Used where a network is frozen (step 1) or
 * only evaluated: the contrastive loss is defined over the batch, and running statistics of a
 * small-batch SSL model are a poor stand-in for what the loss sees (measured: eval-mode L_B stays
 * at chance while the train-mode loss is ~0 on 2-clip batches).
 */
class BatchStatsNoUpdate {
 public:
  explicit BatchStatsNoUpdate(std::initializer_list<torch::nn::Module*> modules)
      : BatchStatsNoUpdate(std::vector<torch::nn::Module*>(modules)) {}
  explicit BatchStatsNoUpdate(const std::vector<torch::nn::Module*>& modules) {
    torch::NoGradGuard ng;
    for (auto* m : modules) {
      if (!m) continue;
      m->train();
      for (auto& b : m->buffers()) saved_.emplace_back(b, b.clone());
    }
  }
  ~BatchStatsNoUpdate() {
    torch::NoGradGuard ng;
    for (auto& [live, copy] : saved_) live.copy_(copy);
  }

 private:
  std::vector<std::pair<torch::Tensor, torch::Tensor>> saved_;
};

/** Frozen networks for step 1: no weight gradients while it lives (restored on every exit path). */
class NoWeightGrad {
 public:
  explicit NoWeightGrad(std::vector<torch::Tensor> params) : params_(std::move(params)) {
    for (auto& p : params_) p.set_requires_grad(false);
  }
  ~NoWeightGrad() {
    for (auto& p : params_) p.set_requires_grad(true);
  }

 private:
  std::vector<torch::Tensor> params_;
};

/**
 * Wall time of the phases of one step, added to its stats as `ms_<phase>` when profiling is on
 * (bench:engine's per-phase split); a no-op otherwise. On CUDA it synchronises at each mark, so
 * profiled steps are slower there; off by default.
 */
class PhaseClock {
 public:
  PhaseClock(bool on, const torch::Device& device, std::map<std::string, double>& out)
      : on_(on), cuda_(device.is_cuda()), out_(out), last_(std::chrono::steady_clock::now()) {}
  bool on() const { return on_; }
  void mark(const char* phase) {
    if (!on_) return;
    if (cuda_) torch::cuda::synchronize();
    const auto now = std::chrono::steady_clock::now();
    out_[std::string("ms_") + phase] += std::chrono::duration<double, std::milli>(now - last_).count();
    last_ = now;
  }

 private:
  bool on_, cuda_;
  std::map<std::string, double>& out_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace spact
