// Inputs of a step: uint8 clips to float on the device with per-clip augmentation, the clip
// window f_T sees, and the temporal sampler S_F that picks the two frames of the SSL pair.
#include "engine.h"

#include <cmath>

namespace F = torch::nn::functional;

namespace spact {

Engine::Prepared Engine::prepare(const Batch& b, bool augment) {
  // Logical [N, T, 3, H, W], physically [N, T, H, W, 3] (as the frames arrive): every f_A frame is
  // then a channels-last view, which is what f_A computes in, with no layout copies.
  auto x = b.frames.to(device_, /*non_blocking=*/true).to(torch::kFloat32).div_(255.0).permute({0, 1, 4, 2, 3});
  if (!(augment && cfg_.augment.enabled)) return {x};
  torch::NoGradGuard ng;
  const int64_t n = x.size(0), h = x.size(3), w = x.size(4);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  std::vector<torch::Tensor> clips;
  clips.reserve(n);
  // Augmentation drawn once per clip: every frame of a clip gets the same crop/flip/colour/erase,
  // so the two SSL frames and the f_T clip differ only in time.
  for (int64_t i = 0; i < n; ++i) {
    auto c = x[i];  // [T, 3, H, W]
    if (cfg_.augment.cropMinScale < 1.0) {
      const double scale = cfg_.augment.cropMinScale + (1.0 - cfg_.augment.cropMinScale) * U(rng_);
      const double side = std::sqrt(scale);
      const int64_t ch = std::max<int64_t>(1, static_cast<int64_t>(h * side)), cw = std::max<int64_t>(1, static_cast<int64_t>(w * side));
      const int64_t y0 = static_cast<int64_t>((h - ch) * U(rng_)), x0 = static_cast<int64_t>((w - cw) * U(rng_));
      c = c.slice(2, y0, y0 + ch).slice(3, x0, x0 + cw);
      if (ch != h || cw != w) {
        c = F::interpolate(c, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
      }
    }
    if (cfg_.augment.flip && U(rng_) < 0.5) c = c.flip({3});
    if (cfg_.augment.jitter > 0) {
      const double j = cfg_.augment.jitter;
      const double bright = 1.0 + j * (2 * U(rng_) - 1), contrast = 1.0 + j * (2 * U(rng_) - 1), sat = 1.0 + j * (2 * U(rng_) - 1);
      auto gray = (c * torch::tensor({0.299f, 0.587f, 0.114f}, c.options()).view({1, 3, 1, 1})).sum(1, true);
      c = gray + (c - gray) * sat;
      auto mean = c.mean({1, 2, 3}, true);
      c = ((c - mean) * contrast + mean) * bright;
      c = c.clamp(0.0, 1.0);
    }
    if (cfg_.augment.eraseProb > 0 && U(rng_) < cfg_.augment.eraseProb) {
      const int64_t eh = std::max<int64_t>(1, static_cast<int64_t>(h * (0.1 + 0.2 * U(rng_))));
      const int64_t ew = std::max<int64_t>(1, static_cast<int64_t>(w * (0.1 + 0.2 * U(rng_))));
      const int64_t y0 = static_cast<int64_t>((h - eh) * U(rng_)), x0 = static_cast<int64_t>((w - ew) * U(rng_));
      c = c.clone();
      c.slice(2, y0, y0 + eh).slice(3, x0, x0 + ew).fill_(U(rng_));
    }
    clips.push_back(c.contiguous());
  }
  return {torch::stack(clips).permute({0, 1, 3, 4, 2}).contiguous().permute({0, 1, 4, 2, 3})};
}

int64_t Engine::sampleWindow(int64_t t) {
  const int64_t span = (cfg_.clipFrames - 1) * cfg_.frameStride + 1;
  return std::uniform_int_distribution<int64_t>(0, t - span)(rng_);
}

torch::Tensor Engine::clipAt(const torch::Tensor& frames, int64_t s0) {
  const int64_t span = (cfg_.clipFrames - 1) * cfg_.frameStride + 1;
  auto clip = frames.slice(1, s0, s0 + span, cfg_.frameStride);  // [N, Tc, 3, H, W]
  return clip.permute({0, 2, 1, 3, 4});  // [N, 3, Tc, H, W]
}

torch::Tensor Engine::clipForT(const torch::Tensor& frames) {
  return clipAt(frames, sampleWindow(frames.size(1)));
}

std::pair<torch::Tensor, torch::Tensor> Engine::samplePair(const torch::Tensor& frames) {
  const int64_t n = frames.size(0), t = frames.size(1);
  std::vector<int64_t> i1(n), i2(n);
  std::uniform_int_distribution<int64_t> any(0, t - 1);
  for (int64_t i = 0; i < n; ++i) {
    int64_t a = any(rng_), b = a;
    switch (cfg_.sampler) {
      case Sampler::kRandom:
        while (b == a) b = any(rng_);
        break;
      case Sampler::kNear: {  // fewer than nearMax frames apart
        const int64_t maxGap = std::min<int64_t>(cfg_.nearMax - 1, t - 1);
        std::uniform_int_distribution<int64_t> gap(1, std::max<int64_t>(1, maxGap));
        const int64_t g = gap(rng_);
        b = (a + g < t) ? a + g : a - g;
        if (b < 0) b = std::min<int64_t>(t - 1, a + 1);
        break;
      }
      case Sampler::kFar: {  // more than farMin frames apart
        std::uniform_int_distribution<int64_t> gap(cfg_.farMin + 1, t - 1);
        const int64_t g = gap(rng_);
        std::uniform_int_distribution<int64_t> first(0, t - 1 - g);
        a = first(rng_);
        b = a + g;
        break;
      }
    }
    i1[i] = a;
    i2[i] = b;
  }
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(frames.device());
  auto rows = torch::arange(n, opts);
  auto t1 = torch::tensor(i1, torch::kLong).to(frames.device());
  auto t2 = torch::tensor(i2, torch::kLong).to(frames.device());
  return {frames.index({rows, t1}), frames.index({rows, t2})};
}

}  // namespace spact
