#pragma once
// Target models of the evaluation protocol (paper §4): trained from scratch on anonymized clips,
// then tested — an action model f'_T (3D CNN) and privacy attackers f'_B (a 2D CNN, and a colour
// histogram MLP, the strongest attacker on colour attributes).
#include <torch/torch.h>

#include <memory>
#include <random>
#include <string>

#include "models.h"

namespace spact {

struct ProbeConfig {
  std::string kind = "r3d";  // r3d | resnet2d | hist-mlp
  int64_t numOutputs = 2;
  bool multiLabel = false;
  std::vector<int64_t> widths{16, 32, 64, 128};
  std::vector<int64_t> blocks{1, 1, 1, 1};
  int64_t clipFrames = 8;  // r3d: frames per clip (every frameStride)
  int64_t frameStride = 2;
  int64_t framesPerClip = 2;  // 2D probes: frames sampled per clip in training (all 4 evenly spaced in predict)
  int64_t histBins = 8;  // per channel: 8³ = 512 joint colour bins
  double lr = 1e-3;
  bool augment = true;  // flip + small crop for the CNN probes
  std::string device = "auto";
  int64_t threads = 0;
  int64_t seed = 0;
};

class Probe {
 public:
  explicit Probe(ProbeConfig cfg);
  /** One optimisation step on frames uint8 [N,T,H,W,3] with targets (int64 [N] or float [N,K]). */
  double train(const torch::Tensor& frames, const torch::Tensor& targets);
  /** Logits [N, K] (2D probes average over frames of each clip). */
  torch::Tensor predict(const torch::Tensor& frames);
  const ProbeConfig& config() const { return cfg_; }

 private:
  torch::Tensor forwardClips(const torch::Tensor& x, bool training);  // x float [N,T,3,H,W]
  torch::Tensor histogram(const torch::Tensor& frames);  // [M,3,H,W] → [M, bins³]
  ProbeConfig cfg_;
  torch::Device device_{torch::kCPU};
  R3D r3d_{nullptr};
  ResNet2d resnet_{nullptr};
  torch::nn::Linear head_{nullptr};
  torch::nn::Sequential mlp_{nullptr};
  std::unique_ptr<torch::optim::Adam> opt_;
  std::mt19937_64 rng_;
};

}  // namespace spact
