#include "probe.h"

#include "engine.h"
#include "losses.h"
#include "thread_audit.h"

namespace F = torch::nn::functional;

namespace spact {

Probe::Probe(ProbeConfig cfg) : cfg_(std::move(cfg)), rng_(static_cast<uint64_t>(cfg_.seed) * 0x2545F4914F6CDD1DULL + 7) {
  recordThread("Probe::Probe");  // the thread count is applied by the caller (compute_thread.h)
  device_ = resolveDevice(cfg_.device);
  torch::manual_seed(static_cast<uint64_t>(cfg_.seed));
  if (cfg_.numOutputs < 1) throw BadInputError("a probe needs at least one output");
  std::vector<torch::Tensor> params;
  if (cfg_.kind == "r3d") {
    R3DConfig rc;
    rc.widths = cfg_.widths;
    rc.blocks = cfg_.blocks;
    r3d_ = R3D(rc, cfg_.numOutputs);
    r3d_->to(device_);
    params = r3d_->parameters();
  } else if (cfg_.kind == "resnet2d") {
    BudgetConfig bc;
    bc.widths = cfg_.widths;
    bc.blocks = cfg_.blocks;
    resnet_ = ResNet2d(bc);
    head_ = torch::nn::Linear(resnet_->featureDim, cfg_.numOutputs);
    resnet_->to(device_);
    head_->to(device_);
    params = resnet_->parameters();
    for (auto& p : head_->parameters()) params.push_back(p);
  } else if (cfg_.kind == "hist-mlp") {
    const int64_t in = cfg_.histBins * cfg_.histBins * cfg_.histBins;
    mlp_ = torch::nn::Sequential(torch::nn::Linear(in, 256), torch::nn::ReLU(), torch::nn::Dropout(0.2), torch::nn::Linear(256, 256),
                                 torch::nn::ReLU(), torch::nn::Linear(256, cfg_.numOutputs));
    mlp_->to(device_);
    params = mlp_->parameters();
  } else {
    throw BadInputError("probe kind must be r3d, resnet2d or hist-mlp, got \"" + cfg_.kind + "\"");
  }
  opt_ = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(cfg_.lr));
}

torch::Tensor Probe::histogram(const torch::Tensor& frames) {
  // Joint RGB histogram per frame, normalised: what colour is present, not where.
  const int64_t m = frames.size(0), b = cfg_.histBins;
  auto q = (frames * (b - 1e-4)).floor().to(torch::kLong).clamp(0, b - 1);  // [M,3,H,W]
  auto idx = (q.select(1, 0) * b + q.select(1, 1)) * b + q.select(1, 2);  // [M,H,W]
  auto flat = idx.reshape({m, -1});
  auto hist = torch::zeros({m, b * b * b}, frames.options());
  hist.scatter_add_(1, flat, torch::ones_like(flat, frames.options()));
  return hist / static_cast<double>(flat.size(1)) * 16.0;
}

torch::Tensor Probe::forwardClips(const torch::Tensor& x, bool training) {
  const int64_t n = x.size(0), t = x.size(1);
  if (cfg_.kind == "r3d") {
    const int64_t span = (cfg_.clipFrames - 1) * cfg_.frameStride + 1;
    if (t < span) throw BadInputError("clips are shorter than the action probe's window");
    const int64_t s0 = training ? std::uniform_int_distribution<int64_t>(0, t - span)(rng_) : (t - span) / 2;
    auto clip = x.slice(1, s0, s0 + span, cfg_.frameStride).permute({0, 2, 1, 3, 4}).contiguous();
    return r3d_->forward(clip);
  }
  // 2D probes: k frames per clip in training (random), 4 evenly spaced in prediction; a clip's
  // prediction is the mean of its frames' logits.
  const int64_t k = training ? std::min<int64_t>(cfg_.framesPerClip, t) : std::min<int64_t>(4, t);
  std::vector<int64_t> picks;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      picks.push_back(i * t + (training ? std::uniform_int_distribution<int64_t>(0, t - 1)(rng_) : (j * (t - 1)) / std::max<int64_t>(1, k - 1)));
    }
  }
  auto frames = x.reshape({n * t, x.size(2), x.size(3), x.size(4)}).index_select(0, torch::tensor(picks, torch::kLong).to(device_));
  torch::Tensor logits;
  if (cfg_.kind == "resnet2d") logits = head_->forward(resnet_->forward(frames));
  else logits = mlp_->forward(histogram(frames));
  return logits.reshape({n, k, -1}).mean(1);
}

double Probe::train(const torch::Tensor& framesU8, const torch::Tensor& targets) {
  recordThread("Probe::train");
  if (r3d_) r3d_->train();
  if (resnet_) resnet_->train(), head_->train();
  if (mlp_) mlp_->train();
  auto x = framesU8.to(device_).to(torch::kFloat32).div_(255.0).permute({0, 1, 4, 2, 3});
  if (cfg_.augment && cfg_.kind != "hist-mlp") {
    // Flip per batch and a small random shift: enough to stop memorising a few thousand clips.
    if (std::uniform_real_distribution<double>(0, 1)(rng_) < 0.5) x = x.flip({4});
    const int64_t pad = std::max<int64_t>(1, x.size(3) / 16);
    const int64_t dy = std::uniform_int_distribution<int64_t>(-pad, pad)(rng_), dx = std::uniform_int_distribution<int64_t>(-pad, pad)(rng_);
    x = torch::roll(x, {dy, dx}, {3, 4});
  }
  auto logits = forwardClips(x.contiguous(), true);
  auto tgt = targets.to(device_);
  auto loss = cfg_.multiLabel ? F::binary_cross_entropy_with_logits(logits, tgt.to(torch::kFloat32)) : F::cross_entropy(logits, tgt);
  opt_->zero_grad();
  loss.backward();
  opt_->step();
  const double v = loss.item<double>();
  if (!std::isfinite(v)) throw NonFiniteError("probe loss became non-finite");
  return v;
}

torch::Tensor Probe::predict(const torch::Tensor& framesU8) {
  recordThread("Probe::predict");
  torch::NoGradGuard ng;
  if (r3d_) r3d_->eval();
  if (resnet_) resnet_->eval(), head_->eval();
  if (mlp_) mlp_->eval();
  auto x = framesU8.to(device_).to(torch::kFloat32).div_(255.0).permute({0, 1, 4, 2, 3}).contiguous();
  return forwardClips(x, false).to(torch::kCPU).contiguous();
}

}  // namespace spact
