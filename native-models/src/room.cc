// Room mode of the engine: SPAct on a real room with no labels of any kind (engine.h, `room`).
//   init:    f_U learns the pseudo-labels on raw frames (then it is the frozen natural-image
//            judge f_A must keep working), f_Bid learns to link people on f_A's output.
//   step 1:  f_A minimises L_U(f_U(f_A(x)), Y) − ω_id · L_Bid(f_A(x)) with f_U, f_Bid frozen
//            (Engine::stepA with the student as its utility term, engine_steps.cc).
//   step 2:  f_Bid (and f_U when it adapts) learn on f_A's output of the next batch.
// A batch holds 2B frames (crops at the working scale) of B different people: frame i and frame
// i+B show the same person at two times; `boxes` locate that person in each frame.
#include <cmath>

#include "engine.h"
#include "losses.h"
#include "train_guards.h"

namespace F = torch::nn::functional;

namespace spact {

std::vector<torch::Tensor> Engine::identityParameters() const {
  auto params = fBid->parameters();
  for (const auto& p : projId->parameters()) params.push_back(p);
  return params;
}

void Engine::checkRoomBatch(const Batch& b) const {
  const auto& f = b.frames;
  const int64_t n = f.size(0), h = f.size(2), w = f.size(3);
  if (f.size(1) != 1) throw BadInputError("room batches hold single frames: frames must be [N, 1, H, W, 3]");
  if (n < 4 || n % 2 != 0) throw BadInputError("a room batch needs an even number (>= 4) of frames: B people at two times");
  const int64_t div = fA->divisor();
  if (h % div != 0 || w % div != 0 || h % 4 != 0 || w % 4 != 0) {
    throw BadInputError("frame size " + std::to_string(h) + "x" + std::to_string(w) + " must be divisible by " +
                        std::to_string(std::max<int64_t>(div, 4)));
  }
  if (!b.heatmaps.defined() || b.heatmaps.dim() != 4 || b.heatmaps.size(0) != n || b.heatmaps.size(1) != cfg_.heatmaps ||
      b.heatmaps.size(2) != h / 4 || b.heatmaps.size(3) != w / 4) {
    throw BadInputError("room batches need heatmaps [N, " + std::to_string(cfg_.heatmaps) + ", H/4, W/4]");
  }
  if (!b.boxes.defined() || b.boxes.dim() != 2 || b.boxes.size(0) != n || b.boxes.size(1) != 4) {
    throw BadInputError("room batches need boxes [N, 4] (x0, y0, x1, y1 in [0, 1])");
  }
}

torch::Tensor Engine::utilityLoss(const torch::Tensor& logits, const torch::Tensor& target) const {
  // Soft-target BCE, weighted towards where people and joints are (a few % of the pixels).
  auto weight = 1.0 + cfg_.utilityPosWeight * target;
  return F::binary_cross_entropy_with_logits(logits, target, F::BinaryCrossEntropyWithLogitsFuncOptions().weight(weight));
}

torch::Tensor Engine::personCrops(const torch::Tensor& images, const torch::Tensor& boxes) const {
  // An affine grid per box (differentiable in the image): the person resampled to idCropH×idCropW.
  auto x0 = boxes.select(1, 0), y0 = boxes.select(1, 1), x1 = boxes.select(1, 2), y1 = boxes.select(1, 3);
  auto zero = torch::zeros_like(x0);
  auto theta = torch::stack({torch::stack({x1 - x0, zero, x0 + x1 - 1}, 1), torch::stack({zero, y1 - y0, y0 + y1 - 1}, 1)}, 1);
  auto grid = F::affine_grid(theta, {images.size(0), images.size(1), cfg_.idCropH, cfg_.idCropW}, false);
  return F::grid_sample(images.contiguous(), grid,
                        F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
}

namespace {
/** Luminance detail: luma minus its local mean (box filter of radius r, twice ≈ Gaussian). */
torch::Tensor lumaDetail(const torch::Tensor& img, int64_t r) {
  auto y = (img * torch::tensor({0.299f, 0.587f, 0.114f}, img.options()).view({1, 3, 1, 1})).sum(1, true);
  auto opts = F::AvgPool2dFuncOptions(2 * r + 1).stride(1).padding(r).count_include_pad(false);
  return y - F::avg_pool2d(F::avg_pool2d(y, opts), opts);
}
}  // namespace

torch::Tensor Engine::structureLoss(const torch::Tensor& out, const torch::Tensor& in) const {
  torch::Tensor target;
  {
    torch::NoGradGuard ng;
    target = lumaDetail(in, cfg_.structureRadius);
  }
  return (lumaDetail(out, cfg_.structureRadius) - target).abs().mean();
}

torch::Tensor Engine::detailPrior(const torch::Tensor& images) const {
  auto d = (0.5 + cfg_.detailGain * lumaDetail(images, cfg_.structureRadius)).clamp(0.0, 1.0);
  return d.expand({images.size(0), 3, images.size(2), images.size(3)});
}

torch::Tensor Engine::identityLoss(const torch::Tensor& images, const torch::Tensor& boxes) {
  const int64_t half = images.size(0) / 2;
  auto z = projId->forward(fBid->forward(personCrops(images, boxes)));
  return ntXent(z.slice(0, 0, half), z.slice(0, half), cfg_.temperature);
}

namespace {
/**
 * Photometric augmentation of the student's raw frames, drawn per frame: colour rotated in the
 * chroma plane, saturation 0–1.5 (0: grey), contrast and brightness. The pretrained judges the
 * student imitates find people in grey, tinted or washed-out pictures; a student that only ever
 * saw this camera's colours would call any recoloured frame empty (measured: its loss on the base
 * model's recoloured output was as bad as on a white frame).
 */
torch::Tensor photometric(const torch::Tensor& x, std::mt19937_64& rng) {
  const int64_t n = x.size(0);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  std::vector<float> mats;
  std::vector<float> gains, biases;
  for (int64_t i = 0; i < n; ++i) {
    const double theta = U(rng) < 0.5 ? (2 * U(rng) - 1) * M_PI : 0.0;
    const double sat = U(rng) < 0.25 ? 0.0 : 0.5 + U(rng);
    // RGB → YIQ, rotate and scale IQ, back to RGB.
    const double c = std::cos(theta) * sat, s = std::sin(theta) * sat;
    const double T[3][3] = {{0.299, 0.587, 0.114}, {0.596, -0.274, -0.322}, {0.211, -0.523, 0.312}};
    const double Ti[3][3] = {{1.0, 0.956, 0.621}, {1.0, -0.272, -0.647}, {1.0, -1.106, 1.703}};
    const double R[3][3] = {{1, 0, 0}, {0, c, -s}, {0, s, c}};
    double RT[3][3] = {}, M[3][3] = {};
    for (int a = 0; a < 3; ++a)
      for (int bb = 0; bb < 3; ++bb)
        for (int k = 0; k < 3; ++k) RT[a][bb] += R[a][k] * T[k][bb];
    for (int a = 0; a < 3; ++a)
      for (int bb = 0; bb < 3; ++bb)
        for (int k = 0; k < 3; ++k) M[a][bb] += Ti[a][k] * RT[k][bb];
    for (int a = 0; a < 3; ++a)
      for (int bb = 0; bb < 3; ++bb) mats.push_back(static_cast<float>(M[a][bb]));
    gains.push_back(static_cast<float>(0.6 + 0.8 * U(rng)));
    biases.push_back(static_cast<float>(0.3 * (U(rng) - 0.5)));
  }
  auto opts = x.options();
  auto M = torch::tensor(mats, opts).view({n, 3, 3});
  auto y = torch::einsum("nij,njhw->nihw", {M, x});
  auto mean = y.mean({1, 2, 3}, true);
  auto g = torch::tensor(gains, opts).view({n, 1, 1, 1});
  auto bias = torch::tensor(biases, opts).view({n, 1, 1, 1});
  return ((y - mean) * g + mean + bias).clamp(0.0, 1.0);
}
}  // namespace

Stats Engine::roomInit(const Batch& b, bool updateU, bool updateB) {
  checkBatch(b, false, false);
  Stats s, ms;
  PhaseClock clock(profile_, device_, ms);
  auto x = prepare(b, false).frames.select(1, 0);
  auto target = b.heatmaps.to(device_);
  auto boxes = b.boxes.to(device_);
  clock.mark("copies");
  if (updateU) {
    // The student learns what the pretrained judges saw on the raw frames.
    fU->train();
    torch::Tensor xa;
    {
      torch::NoGradGuard ng;
      xa = photometric(x, rng_);
    }
    clock.mark("augment");
    auto lu = utilityLoss(fU->forward(xa), target);
    clock.mark("fU_fwd");
    s["loss_T"] = lu.item<double>();
    checkFinite(s, "student init");
    optU_->zero_grad();
    lu.backward();
    clock.mark("fU_bwd");
    optU_->step();
    clock.mark("optimizer");
  }
  if (updateB) {
    torch::Tensor a;
    {
      torch::NoGradGuard ng;
      fA->eval();
      a = fA->forward(x);
    }
    clock.mark("fA_fwd");
    fBid->train();
    projId->train();
    auto lb = identityLoss(a, boxes);
    clock.mark("fBid_fwd");
    s["loss_B"] = lb.item<double>();
    checkFinite(s, "identity budget init");
    optBid_->zero_grad();
    lb.backward();
    clock.mark("fBid_bwd");
    optBid_->step();
    clock.mark("optimizer");
  }
  s.insert(ms.begin(), ms.end());
  return s;
}

Stats Engine::roomStepB(const Batch& b) {
  // The identity budget keeps learning to link people on f_A's output; the student only when it
  // adapts (otherwise it stays the natural-image judge it was trained as).
  checkBatch(b, false, false);
  Stats s, ms;
  PhaseClock clock(profile_, device_, ms);
  auto x = prepare(b, false).frames.select(1, 0);
  clock.mark("copies");
  torch::Tensor a;
  {
    torch::NoGradGuard ng;
    fA->eval();
    a = fA->forward(x);
  }
  clock.mark("fA_fwd");
  if (!cfg_.freezeBudget) {
    fBid->train();
    projId->train();
    auto lb = identityLoss(a, b.boxes.to(device_));
    clock.mark("fBid_fwd");
    s["loss_B"] = lb.item<double>();
    checkFinite(s, "room step 2");
    optBid_->zero_grad();
    lb.backward();
    clock.mark("fBid_bwd");
    optBid_->step();
    clock.mark("optimizer");
  }
  if (cfg_.adaptStudent) {
    fU->train();
    auto lu = utilityLoss(fU->forward(a), b.heatmaps.to(device_));
    s["loss_T"] = lu.item<double>();
    checkFinite(s, "room step 2");
    optU_->zero_grad();
    lu.backward();
    optU_->step();
    clock.mark("fU_train");
  }
  s.insert(ms.begin(), ms.end());
  return s;
}

Stats Engine::roomEvaluate(const Batch& b) {
  checkBatch(b, false, false);
  torch::NoGradGuard ng;
  fA->eval();
  fU->eval();
  BatchStatsNoUpdate batchStats{fBid.get(), projId.get()};
  auto x = prepare(b, false).frames.select(1, 0);
  auto target = b.heatmaps.to(device_);
  auto a = fA->forward(x);
  // l1 is the distance to what f_A's init reconstructs (the frame, or the detail prior), so the
  // init's threshold means the same in both cases; l1_raw is always the distance to the frame.
  const auto l1raw = l1Loss(a, x).item<double>();
  Stats s{{"l1", cfg_.initTarget == InitTarget::kDetail ? l1Loss(a, detailPrior(x)).item<double>() : l1raw}, {"l1_raw", l1raw}};
  s["loss_T"] = utilityLoss(fU->forward(a), target).item<double>();
  s["loss_U_raw"] = utilityLoss(fU->forward(x), target).item<double>();
  s["loss_B"] = identityLoss(a, b.boxes.to(device_)).item<double>();
  s["structure"] = structureLoss(a, x).item<double>();
  return s;
}

}  // namespace spact
