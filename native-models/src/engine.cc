#include "engine.h"

#include <cmath>
#include <sstream>

#include "losses.h"
#include "thread_audit.h"
#include "train_guards.h"

namespace F = torch::nn::functional;

namespace spact {

torch::Device resolveDevice(const std::string& spec) {
  if (spec == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw BadInputError("device \"" + spec + "\" was requested but this libtorch has no usable CUDA device");
    }
    torch::Device d(spec);
    if (d.has_index() && d.index() >= static_cast<int64_t>(torch::cuda::device_count())) {
      throw BadInputError("device \"" + spec + "\" does not exist (" + std::to_string(torch::cuda::device_count()) + " CUDA device(s))");
    }
    return d;
  }
  throw BadInputError("device must be auto, cpu, cuda or cuda:N, got \"" + spec + "\"");
}

Engine::Engine(EngineConfig cfg) : cfg_(std::move(cfg)), rng_(static_cast<uint64_t>(cfg_.seed) * 0x9E3779B97F4A7C15ULL + 1) {
  recordThread("Engine::Engine");  // the thread count is applied by the caller (compute_thread.h)
  device_ = resolveDevice(cfg_.device);
  torch::manual_seed(static_cast<uint64_t>(cfg_.seed));
  if (cfg_.omega < 0) throw BadInputError("omega must be >= 0");
  if (cfg_.temperature <= 0) throw BadInputError("temperature must be > 0");
  if (cfg_.clipFrames < 1 || cfg_.frameStride < 1) throw BadInputError("clipFrames and frameStride must be >= 1");
  const auto& bl = cfg_.budgetLoss;
  if (bl != "ntxent" && bl != "moco" && bl != "rotnet" && bl != "supervised") {
    throw BadInputError("budgetLoss must be ntxent, moco, rotnet or supervised, got \"" + bl + "\"");
  }
  if (bl == "supervised" && cfg_.numPrivacy < 1) throw BadInputError("supervised budget mode needs numPrivacy >= 1");
  if (cfg_.distillTeacher != "raw" && cfg_.distillTeacher != "anonymized") {
    throw BadInputError("distillTeacher must be raw or anonymized, got \"" + cfg_.distillTeacher + "\"");
  }
  if (cfg_.sampler != "random" && cfg_.sampler != "near" && cfg_.sampler != "far") {
    throw BadInputError("sampler must be random, near or far, got \"" + cfg_.sampler + "\"");
  }

  fA = UNet(cfg_.fA);
  fT = R3D(cfg_.fT, cfg_.numActions);
  fB = ResNet2d(cfg_.fB);
  if (bl == "ntxent" || bl == "moco") proj = Projection(fB->featureDim, cfg_.fB.projDim);
  if (bl == "rotnet") rotHead = torch::nn::Linear(fB->featureDim, 4);
  if (bl == "supervised") privHead = torch::nn::Linear(fB->featureDim, cfg_.numPrivacy);
  fA->to(device_);
  fA->applyMemoryFormat();
  if (cfg_.distill && cfg_.distillTeacher == "anonymized") {
    fATeacher = UNet(cfg_.fA);
    fATeacher->to(device_);
    fATeacher->applyMemoryFormat();
    fATeacher->eval();
    for (auto& p : fATeacher->parameters()) p.set_requires_grad(false);
  }
  fT->to(device_);
  if (cfg_.distill && cfg_.distillAdaptT) {
    fTTeacher = R3D(cfg_.fT, cfg_.numActions);
    fTTeacher->to(device_);
    fTTeacher->eval();
    for (auto& p : fTTeacher->parameters()) p.set_requires_grad(false);
  }
  fB->to(device_);
  if (proj) proj->to(device_);
  if (rotHead) rotHead->to(device_);
  if (privHead) privHead->to(device_);

  if (cfg_.room) {
    if (cfg_.heatmaps < 1) throw BadInputError("room mode needs at least one heatmap channel");
    if (cfg_.idCropW < 8 || cfg_.idCropH < 8) throw BadInputError("identity crops must be at least 8x8");
    if (cfg_.initTarget != "identity" && cfg_.initTarget != "detail") {
      throw BadInputError("room initTarget must be identity or detail, got \"" + cfg_.initTarget + "\"");
    }
    fU = HeatmapNet(cfg_.studentWidths, cfg_.heatmaps);
    fBid = ResNet2d(cfg_.fB);
    projId = Projection(fBid->featureDim, cfg_.fB.projDim);
    fU->to(device_);
    fBid->to(device_);
    projId->to(device_);
  }

  auto adam = [&](std::vector<torch::Tensor> params, double lr) {
    return std::make_unique<torch::optim::Adam>(std::move(params), torch::optim::AdamOptions(lr).weight_decay(cfg_.weightDecay));
  };
  optA_ = adam(fA->parameters(), cfg_.lrA);
  optT_ = adam(fT->parameters(), cfg_.lrT);
  optB_ = adam(budgetParameters(), cfg_.lrB);
  if (cfg_.room) {
    optU_ = adam(fU->parameters(), cfg_.lrT);
    optBid_ = adam(identityParameters(), cfg_.lrB);
  }

  if (bl == "moco") {
    keyEnc_ = ResNet2d(cfg_.fB);
    keyProj_ = Projection(fB->featureDim, cfg_.fB.projDim);
    keyEnc_->to(device_);
    keyProj_->to(device_);
    torch::NoGradGuard ng;
    auto src = fB->parameters(), dst = keyEnc_->parameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]), dst[i].set_requires_grad(false);
    auto ps = proj->parameters(), pd = keyProj_->parameters();
    for (size_t i = 0; i < ps.size(); ++i) pd[i].copy_(ps[i]), pd[i].set_requires_grad(false);
    queue_ = F::normalize(torch::randn({cfg_.mocoQueue, cfg_.fB.projDim}, torch::TensorOptions().device(device_)),
                          F::NormalizeFuncOptions().dim(1));
  }
}

std::vector<torch::Tensor> Engine::budgetParameters() const {
  auto params = fB->parameters();
  for (const auto& head : {proj ? proj->parameters() : std::vector<torch::Tensor>{},
                           rotHead ? rotHead->parameters() : std::vector<torch::Tensor>{},
                           privHead ? privHead->parameters() : std::vector<torch::Tensor>{}}) {
    params.insert(params.end(), head.begin(), head.end());
  }
  return params;
}

Stats Engine::parameterCounts() const {
  recordThread("Engine::parameterCounts");
  int64_t b = 0;
  for (const auto& p : budgetParameters()) b += p.numel();
  Stats s{{"fA", static_cast<double>(countParameters(*fA))},
          {"fT", static_cast<double>(countParameters(*fT))},
          {"fB", static_cast<double>(b)}};
  if (cfg_.room) {
    int64_t id = 0;
    for (const auto& p : identityParameters()) id += p.numel();
    s["fU"] = static_cast<double>(countParameters(*fU));
    s["fBid"] = static_cast<double>(id);
  }
  return s;
}

Stats Engine::fingerprint() const {
  recordThread("Engine::fingerprint");
  torch::NoGradGuard ng;
  auto sum = [](const std::vector<torch::Tensor>& ps) {
    double t = 0;
    for (const auto& p : ps) t += p.abs().sum().item<double>();
    return t;
  };
  Stats s{{"fA", sum(fA->parameters())}, {"fT", sum(fT->parameters())}, {"fB", sum(budgetParameters())}};
  if (cfg_.room) {
    s["fU"] = sum(fU->parameters());
    s["fBid"] = sum(identityParameters());
  }
  return s;
}


void Engine::checkBatch(const Batch& b, bool needActions, bool needPrivacy) const {
  const auto& f = b.frames;
  if (!f.defined() || f.dim() != 5 || f.size(4) != 3 || f.scalar_type() != torch::kUInt8) {
    throw BadInputError("frames must be uint8 [N, T, H, W, 3]");
  }
  const int64_t n = f.size(0), t = f.size(1), h = f.size(2), w = f.size(3);
  if (n < 2) throw BadInputError("a batch needs at least 2 clips (contrastive loss), got " + std::to_string(n));
  if (cfg_.room) {
    checkRoomBatch(b);
    return;
  }
  const int64_t need = (cfg_.clipFrames - 1) * cfg_.frameStride + 1;
  if (t < need) {
    throw BadInputError("clips have " + std::to_string(t) + " frames but f_T needs " + std::to_string(need) +
                        " (clipFrames " + std::to_string(cfg_.clipFrames) + ", frameStride " + std::to_string(cfg_.frameStride) + ")");
  }
  if (t < 2) throw BadInputError("clips need at least 2 frames for the temporal sampler");
  if (cfg_.sampler == "far" && t <= cfg_.farMin) {
    throw BadInputError("sampler \"far\" needs clips longer than farMin=" + std::to_string(cfg_.farMin) + " frames, got " + std::to_string(t));
  }
  const int64_t div = fA->divisor();
  if (h % div != 0 || w % div != 0) {
    throw BadInputError("frame size " + std::to_string(h) + "x" + std::to_string(w) + " must be divisible by " + std::to_string(div) + " for this f_A");
  }
  if (needActions) {
    if (!b.actions.defined()) throw BadInputError("this step needs action labels");
    if (b.actions.size(0) != n) throw BadInputError("action labels do not match the number of clips");
    if (cfg_.multiLabelActions) {
      if (b.actions.dim() != 2 || b.actions.size(1) != cfg_.numActions) {
        throw BadInputError("multi-label actions must be [N, " + std::to_string(cfg_.numActions) + "]");
      }
    } else {
      if (b.actions.dim() != 1) throw BadInputError("actions must be class indices [N]");
      auto mn = b.actions.min().item<int64_t>(), mx = b.actions.max().item<int64_t>();
      if (mn < 0 || mx >= cfg_.numActions) {
        throw BadInputError("action label out of range 0.." + std::to_string(cfg_.numActions - 1) + ": " + std::to_string(mn < 0 ? mn : mx));
      }
    }
  }
  if (needPrivacy) {
    if (!b.privacy.defined()) throw BadInputError("supervised budget mode needs privacy labels");
    if (b.privacy.dim() != 2 || b.privacy.size(0) != n || b.privacy.size(1) != cfg_.numPrivacy) {
      throw BadInputError("privacy labels must be [N, " + std::to_string(cfg_.numPrivacy) + "]");
    }
  }
}

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

torch::Tensor Engine::applyA(const torch::Tensor& frames) {
  const auto s = frames.sizes();
  auto y = fA->forward(frames.reshape({s[0] * s[1], s[2], s[3], s[4]}));
  return y.reshape(s);
}

torch::Tensor Engine::teacherInput(const torch::Tensor& frames) {
  if (!fATeacher) return frames;
  torch::NoGradGuard ng;
  const auto s = frames.sizes();
  return fATeacher->forward(frames.reshape({s[0] * s[1], s[2], s[3], s[4]})).reshape(s);
}

torch::Tensor Engine::teacherLogits(const torch::Tensor& frames, int64_t start) {
  torch::NoGradGuard ng;
  auto clip = clipAt(teacherInput(frames), start);
  if (!fTTeacher) return fT->forward(clip);
  // Batch statistics, as the frozen f_T of the plain fine-tune sees them (BatchStatsNoUpdate).
  BatchStatsNoUpdate keep{fTTeacher.get()};
  return fTTeacher->forward(clip);
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

namespace {
/** KL(teacher ‖ student) on softened distributions, scaled by τ² (Hinton et al.). */
torch::Tensor distillLoss(const torch::Tensor& teacherLogits, const torch::Tensor& studentLogits, double tau) {
  auto p = torch::softmax(teacherLogits / tau, 1);
  auto logq = torch::log_softmax(studentLogits / tau, 1);
  return (p * (torch::log(p.clamp_min(1e-12)) - logq)).sum(1).mean() * (tau * tau);
}
}  // namespace

Stats Engine::distillStepA(const Batch& b) {
  checkBatch(b, false, false);
  auto x = prepare(b, true).frames;
  fA->train();
  BatchStatsNoUpdate frozen{fT.get(), fB.get(), proj ? proj.get() : nullptr};
  NoWeightGrad frozenT(fT->parameters());
  NoWeightGrad frozenB(budgetParameters());
  Stats s;
  {
    const int64_t s0 = sampleWindow(x.size(1));
    auto teacher = teacherLogits(x, s0);
    auto a = applyA(x);
    auto student = fT->forward(clipAt(a, s0));
    auto ld = distillLoss(teacher, student, cfg_.distillTemperature);
    auto lt = ld;
    if (b.actions.defined() && !cfg_.multiLabelActions) {
      auto labels = b.actions.to(device_);
      auto tagged = labels >= 0;
      if (tagged.any().item<bool>()) {
        lt = lt + F::cross_entropy(student.index({tagged}), labels.index({tagged}));
      }
    }
    auto lb = budgetLoss(a, b, false);
    auto loss = lt - cfg_.omega * lb;
    s["distill"] = ld.item<double>();
    s["loss_T"] = lt.item<double>();
    s["loss_B"] = lb.item<double>();
    s["acc_T"] = student.argmax(1).eq(teacher.argmax(1)).to(torch::kFloat32).mean().item<double>();
    s["l1"] = l1Loss(a.detach(), x).item<double>();
    checkFinite(s, "fine-tuning step 1");
    optA_->zero_grad();
    loss.backward();
    optA_->step();
  }
  return s;
}

Stats Engine::distillEvaluate(const Batch& b) {
  checkBatch(b, false, false);
  torch::NoGradGuard ng;
  const auto saved = rng_;
  rng_.seed(static_cast<uint64_t>(cfg_.seed) + 0x5EEDULL);
  fA->eval();
  BatchStatsNoUpdate batchStats{fT.get(), fB.get(), proj ? proj.get() : nullptr};
  auto x = prepare(b, false).frames;
  auto a = applyA(x);
  const int64_t s0 = sampleWindow(x.size(1));
  auto teacher = teacherLogits(x, s0);
  auto student = fT->forward(clipAt(a, s0));
  Stats s{{"l1", l1Loss(a, x).item<double>()}};
  s["distill"] = distillLoss(teacher, student, cfg_.distillTemperature).item<double>();
  s["loss_T"] = s["distill"];
  s["acc_T"] = student.argmax(1).eq(teacher.argmax(1)).to(torch::kFloat32).mean().item<double>();
  s["loss_B"] = budgetLoss(a, b, false).item<double>();
  rng_ = saved;
  return s;
}

std::pair<torch::Tensor, torch::Tensor> Engine::samplePair(const torch::Tensor& frames) {
  const int64_t n = frames.size(0), t = frames.size(1);
  std::vector<int64_t> i1(n), i2(n);
  std::uniform_int_distribution<int64_t> any(0, t - 1);
  for (int64_t i = 0; i < n; ++i) {
    int64_t a = any(rng_), b = a;
    if (cfg_.sampler == "random") {
      while (b == a) b = any(rng_);
    } else if (cfg_.sampler == "near") {
      const int64_t maxGap = std::min<int64_t>(cfg_.nearMax - 1, t - 1);
      std::uniform_int_distribution<int64_t> gap(1, std::max<int64_t>(1, maxGap));
      const int64_t g = gap(rng_);
      b = (a + g < t) ? a + g : a - g;
      if (b < 0) b = std::min<int64_t>(t - 1, a + 1);
    } else {  // far
      std::uniform_int_distribution<int64_t> gap(cfg_.farMin + 1, t - 1);
      const int64_t g = gap(rng_);
      std::uniform_int_distribution<int64_t> first(0, t - 1 - g);
      a = first(rng_);
      b = a + g;
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

torch::Tensor Engine::budgetLoss(const torch::Tensor& frames, const Batch& b, bool updateQueue) {
  const auto& kind = cfg_.budgetLoss;
  if (kind == "supervised") {
    // Wu et al.: f_B predicts the privacy attributes of a frame (multi-label BCE).
    auto [f1, f2] = samplePair(frames);
    auto logits = privHead->forward(fB->forward(torch::cat({f1, f2}, 0)));
    auto target = b.privacy.to(device_).to(torch::kFloat32).repeat({2, 1});
    return F::binary_cross_entropy_with_logits(logits, target);
  }
  if (kind == "rotnet") {
    auto [f1, f2] = samplePair(frames);
    auto both = torch::cat({f1, f2}, 0);
    torch::Tensor total;
    for (int64_t k = 0; k < 4; ++k) {
      auto rotated = k == 0 ? both : torch::rot90(both, k, {2, 3});
      auto labels = torch::full({both.size(0)}, k, torch::TensorOptions().dtype(torch::kLong).device(device_));
      auto l = F::cross_entropy(rotHead->forward(fB->forward(rotated)), labels);
      total = k == 0 ? l : total + l;
    }
    return total / 4.0;
  }
  auto [f1, f2] = samplePair(frames);
  if (kind == "ntxent") {
    const int64_t n = f1.size(0);
    // One pass through f_B for both frames: BatchNorm sees the whole 2N batch.
    auto z = proj->forward(fB->forward(torch::cat({f1, f2}, 0)));
    return ntXent(z.slice(0, 0, n), z.slice(0, n), cfg_.temperature);
  }
  // MoCo: query from frame 1, key from frame 2 through the momentum encoder.
  auto q = proj->forward(fB->forward(f1));
  torch::Tensor k;
  {
    torch::NoGradGuard ng;
    k = keyProj_->forward(keyEnc_->forward(f2.detach()));
  }
  // The queue is updated in place below; the loss keeps its own copy for backward.
  auto loss = mocoLoss(q, k, queue_.clone(), cfg_.temperature);
  if (updateQueue) {
    torch::NoGradGuard ng;
    const int64_t n = k.size(0), cap = queue_.size(0);
    for (int64_t i = 0; i < n; ++i) queue_[(queuePtr_ + i) % cap].copy_(k[i]);
    queuePtr_ = (queuePtr_ + n) % cap;
  }
  return loss;
}

void Engine::checkFinite(const Stats& s, const char* step) const {
  for (const auto& [k, v] : s) {
    if (!std::isfinite(v)) {
      std::ostringstream os;
      os << "non-finite " << k << " (" << v << ") in " << step << "; lower the learning rates or omega";
      throw NonFiniteError(os.str());
    }
  }
}

Stats Engine::initA(const Batch& b) {
  recordThread("Engine::initA");
  checkBatch(b, false, false);
  fA->train();
  auto x = prepare(b, true).frames;
  auto recon = applyA(x);
  // Room mode may start f_A from the detail prior instead of the identity (engine.h, initTarget).
  const bool detail = cfg_.room && cfg_.initTarget == "detail";
  torch::Tensor target = x;
  if (detail) {
    torch::NoGradGuard ng;
    const auto sz = x.sizes();
    target = detailPrior(x.reshape({sz[0] * sz[1], sz[2], sz[3], sz[4]})).reshape(sz);
  }
  auto loss = l1Loss(recon, target);
  Stats s{{"l1", loss.item<double>()}};
  checkFinite(s, "init-A");
  optA_->zero_grad();
  loss.backward();
  optA_->step();
  return s;
}

Stats Engine::initTB(const Batch& b, bool updateT, bool updateB) {
  recordThread("Engine::initTB");
  if (cfg_.room) return roomInit(b, updateT, updateB);
  checkBatch(b, updateT, updateB && cfg_.budgetLoss == "supervised");
  Stats s, ms;
  PhaseClock clock(profile_, device_, ms);
  auto x = prepare(b, true).frames;
  clock.mark("copies");
  torch::Tensor a;
  {
    torch::NoGradGuard ng;
    fA->eval();
    a = applyA(x);
  }
  clock.mark("fA_fwd");
  if (updateT) {
    fT->train();
    auto logits = fT->forward(clipForT(a));
    auto lt = actionLoss(logits, b.actions.to(device_), cfg_.multiLabelActions);
    clock.mark("fT_fwd");
    s["loss_T"] = lt.item<double>();
    s["acc_T"] = actionAccuracy(logits, b.actions.to(device_), cfg_.multiLabelActions);
    checkFinite(s, "init-T");
    clock.mark("stats");
    optT_->zero_grad();
    lt.backward();
    clock.mark("fT_bwd");
    optT_->step();
    clock.mark("optimizer");
  }
  if (updateB) {
    fB->train();
    auto lb = budgetLoss(a, b, true);
    clock.mark("fB_fwd");
    s["loss_B"] = lb.item<double>();
    checkFinite(s, "init-B");
    clock.mark("stats");
    optB_->zero_grad();
    lb.backward();
    clock.mark("fB_bwd");
    optB_->step();
    if (cfg_.budgetLoss == "moco") {
      torch::NoGradGuard ng;
      const double m = cfg_.mocoMomentum;
      auto src = fB->parameters(), dst = keyEnc_->parameters();
      for (size_t i = 0; i < src.size(); ++i) dst[i].mul_(m).add_(src[i], 1 - m);
      auto ps = proj->parameters(), pd = keyProj_->parameters();
      for (size_t i = 0; i < ps.size(); ++i) pd[i].mul_(m).add_(ps[i], 1 - m);
    }
    clock.mark("optimizer");
  }
  s.insert(ms.begin(), ms.end());
  return s;
}

/**
 * Backward of step 1 into f_A from `total` (utility − ω·budget, plus any extra term). With
 * profiling and no extra term, the same gradient is built network by network — ∂utility/∂a and
 * ∂budget/∂a through the frozen nets, then a.backward(g_u − ω·g_b) into f_A — so each net's
 * backward is timed; otherwise one pass.
 */
void Engine::backwardIntoA(const torch::Tensor& a, const torch::Tensor& utility, const torch::Tensor& budget, double omega,
                           const torch::Tensor& total, PhaseClock& clock, const char* utilityNet, const char* budgetNet,
                           bool extraTerms) {
  if (!clock.on() || extraTerms) {
    total.backward();
    clock.mark("backward");
    return;
  }
  auto gU = torch::autograd::grad({utility}, {a}, {}, /*retain_graph=*/true)[0];
  clock.mark(utilityNet);
  auto gB = torch::autograd::grad({budget}, {a}, {}, /*retain_graph=*/true)[0];
  clock.mark(budgetNet);
  a.backward(gU - omega * gB);
  clock.mark("fA_bwd");
}

Stats Engine::stepA(const Batch& b) {
  recordThread("Engine::stepA");
  if (cfg_.room) return roomStepA(b);
  if (cfg_.distill) return distillStepA(b);
  checkBatch(b, true, cfg_.budgetLoss == "supervised");
  Stats s, ms;
  PhaseClock clock(profile_, device_, ms);
  auto x = prepare(b, true).frames;
  fA->train();
  // f_T and f_B are frozen in step 1: no weight gradients, running statistics untouched —
  // gradients still flow through them into f_A.
  BatchStatsNoUpdate frozen{fT.get(), fB.get(), proj ? proj.get() : nullptr};
  NoWeightGrad frozenT(fT->parameters());
  NoWeightGrad frozenB(budgetParameters());
  clock.mark("copies");
  {
    auto a = applyA(x);
    clock.mark("fA_fwd");
    auto logits = fT->forward(clipForT(a));
    auto actions = b.actions.to(device_);
    auto lt = actionLoss(logits, actions, cfg_.multiLabelActions);
    clock.mark("fT_fwd");
    auto lb = budgetLoss(a, b, false);
    clock.mark("fB_fwd");
    auto loss = lt - cfg_.omega * lb;  // Eq. 9: keep the action, lose the budget
    s["loss_T"] = lt.item<double>();
    s["loss_B"] = lb.item<double>();
    s["acc_T"] = actionAccuracy(logits, actions, cfg_.multiLabelActions);
    s["l1"] = l1Loss(a.detach(), x).item<double>();
    checkFinite(s, "minimax step 1");
    clock.mark("stats");
    optA_->zero_grad();
    backwardIntoA(a, lt, lb, cfg_.omega, loss, clock, "fT_bwd", "fB_bwd", false);
    optA_->step();
    clock.mark("optimizer");
  }
  s.insert(ms.begin(), ms.end());
  return s;
}

Stats Engine::stepTB(const Batch& b) {
  recordThread("Engine::stepTB");
  if (cfg_.room) return roomStepB(b);
  if (fTTeacher) return distillStepTB(b);
  // Fine-tuning without distillAdaptT keeps the base f_T frozen: it is the teacher.
  return initTB(b, !cfg_.distill, !cfg_.freezeBudget);
}

Stats Engine::distillStepTB(const Batch& b) {
  Stats s = cfg_.freezeBudget ? Stats{} : initTB(b, false, true);
  auto x = prepare(b, true).frames;
  const int64_t s0 = sampleWindow(x.size(1));
  auto teacher = teacherLogits(x, s0);
  torch::Tensor a;
  {
    torch::NoGradGuard ng;
    fA->eval();
    a = applyA(x);
  }
  fT->train();
  auto student = fT->forward(clipAt(a, s0));
  auto lt = distillLoss(teacher, student, cfg_.distillTemperature);
  if (b.actions.defined() && !cfg_.multiLabelActions) {
    auto labels = b.actions.to(device_);
    auto tagged = labels >= 0;
    if (tagged.any().item<bool>()) lt = lt + F::cross_entropy(student.index({tagged}), labels.index({tagged}));
  }
  s["loss_T"] = lt.item<double>();
  s["acc_T"] = student.argmax(1).eq(teacher.argmax(1)).to(torch::kFloat32).mean().item<double>();
  checkFinite(s, "fine-tuning step 2");
  optT_->zero_grad();
  lt.backward();
  optT_->step();
  return s;
}

Stats Engine::evaluate(const Batch& b) {
  recordThread("Engine::evaluate");
  if (cfg_.room) return roomEvaluate(b);
  if (cfg_.distill) return distillEvaluate(b);
  checkBatch(b, b.actions.defined(), cfg_.budgetLoss == "supervised");
  torch::NoGradGuard ng;
  // Evaluation draws its clip window and frame pair from a fixed seed, so two evaluations of the
  // same batch differ only by the weights; training randomness is left untouched.
  const auto saved = rng_;
  rng_.seed(static_cast<uint64_t>(cfg_.seed) + 0x5EEDULL);
  struct Restore {
    std::mt19937_64& r;
    std::mt19937_64 s;
    ~Restore() { r = s; }
  } restore{rng_, saved};
  fA->eval();
  BatchStatsNoUpdate batchStats{fT.get(), fB.get(), proj ? proj.get() : nullptr};
  auto x = prepare(b, false).frames;
  auto a = applyA(x);
  Stats s{{"l1", l1Loss(a, x).item<double>()}};
  if (b.actions.defined()) {
    auto logits = fT->forward(clipForT(a));
    auto actions = b.actions.to(device_);
    s["loss_T"] = actionLoss(logits, actions, cfg_.multiLabelActions).item<double>();
    s["acc_T"] = actionAccuracy(logits, actions, cfg_.multiLabelActions);
  }
  s["loss_B"] = budgetLoss(a, b, false).item<double>();
  return s;
}

torch::Tensor Engine::anonymize(const torch::Tensor& framesNHWC) {
  recordThread("Engine::anonymize");
  if (!framesNHWC.defined() || framesNHWC.dim() != 4 || framesNHWC.size(3) != 3 || framesNHWC.scalar_type() != torch::kUInt8) {
    throw BadInputError("frames must be uint8 [N, H, W, 3]");
  }
  if (framesNHWC.size(0) == 0) return framesNHWC.clone();
  torch::InferenceMode guard;
  fA->eval();
  auto x = framesNHWC.to(device_).permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0);
  const int64_t h = x.size(2), w = x.size(3), div = fA->divisor();
  const int64_t ph = (div - h % div) % div, pw = (div - w % div) % div;
  if (ph || pw) {
    // Reflect-pad to a size the UNet accepts, then crop back: any frame size works.
    const bool reflectOk = ph < h && pw < w;
    auto opts = F::PadFuncOptions({0, pw, 0, ph});
    if (reflectOk) opts.mode(torch::kReflect);
    else opts.mode(torch::kReplicate);
    x = F::pad(x, opts);
  }
  auto y = fA->forward(x);
  if (ph || pw) y = y.slice(2, 0, h).slice(3, 0, w);
  return y.mul(255.0).round_().clamp_(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous().to(torch::kCPU);
}

namespace {
void writeModule(torch::serialize::OutputArchive& root, const std::string& key, const torch::nn::Module& m) {
  torch::serialize::OutputArchive a;
  m.save(a);
  root.write(key, a);
}
void readModule(torch::serialize::InputArchive& root, const std::string& key, torch::nn::Module& m) {
  torch::serialize::InputArchive a;
  root.read(key, a);
  m.load(a);
}
}  // namespace

void Engine::save(const std::string& path, const std::string& meta, bool weightsOnly) {
  recordThread("Engine::save");
  {
    // A diverged network must never replace a good checkpoint.
    torch::NoGradGuard ng;
    for (const auto& [name, m] : {std::pair<const char*, torch::nn::Module*>{"f_A", fA.get()}, {"f_T", fT.get()}, {"f_B", fB.get()},
                                  {"f_U", fU ? fU.get() : nullptr}, {"f_Bid", fBid ? fBid.get() : nullptr},
                                  {"the identity projection", projId ? projId.get() : nullptr}}) {
      if (!m) continue;
      for (const auto& p : m->parameters()) {
        if (!torch::isfinite(p).all().item<bool>()) throw NonFiniteError(std::string("refusing to checkpoint non-finite weights of ") + name);
      }
    }
  }
  torch::serialize::OutputArchive root;
  root.write("format", c10::IValue(std::string("spact-checkpoint-v1")));
  root.write("meta", c10::IValue(meta));
  writeModule(root, "fA", *fA);
  writeModule(root, "fT", *fT);
  writeModule(root, "fB", *fB);
  if (proj) writeModule(root, "proj", *proj);
  if (fATeacher) writeModule(root, "fATeacher", *fATeacher);
  if (fTTeacher) writeModule(root, "fTTeacher", *fTTeacher);
  if (rotHead) writeModule(root, "rotHead", *rotHead);
  if (privHead) writeModule(root, "privHead", *privHead);
  if (fU) {
    writeModule(root, "fU", *fU);
    writeModule(root, "fBid", *fBid);
    writeModule(root, "projId", *projId);
  }
  if (keyEnc_) {
    writeModule(root, "keyEnc", *keyEnc_);
    writeModule(root, "keyProj", *keyProj_);
    root.write("mocoQueue", queue_, true);
    root.write("mocoQueuePtr", c10::IValue(queuePtr_));
  }
  root.write("hasOptimizer", c10::IValue(!weightsOnly));
  if (!weightsOnly) {
    for (auto& [key, opt] : {std::pair<const char*, torch::optim::Adam*>{"optA", optA_.get()}, {"optT", optT_.get()}, {"optB", optB_.get()},
                             {"optU", optU_.get()}, {"optBid", optBid_.get()}}) {
      if (!opt) continue;
      torch::serialize::OutputArchive a;
      opt->save(a);
      root.write(key, a);
    }
  }
  root.save_to(path);
}

std::string Engine::readMeta(const std::string& path) {
  torch::serialize::InputArchive root;
  root.load_from(path, torch::Device(torch::kCPU));
  c10::IValue format;
  if (!root.try_read("format", format) || !format.isString() || format.toStringRef() != "spact-checkpoint-v1") {
    throw BadInputError("not a SPAct checkpoint");
  }
  c10::IValue meta;
  root.read("meta", meta);
  return meta.toStringRef();
}

std::string Engine::load(const std::string& path, bool weightsOnly, bool onlyAnonymizer) {
  recordThread("Engine::load");
  torch::serialize::InputArchive root;
  root.load_from(path, device_);
  c10::IValue format;
  if (!root.try_read("format", format) || !format.isString() || format.toStringRef() != "spact-checkpoint-v1") {
    throw BadInputError("not a SPAct checkpoint");
  }
  readModule(root, "fA", *fA);
  fA->applyMemoryFormat();
  // Teachers: starting from a base (weights only), its networks become the frozen teachers;
  // resuming a run, the teachers it saved (its networks have moved on since).
  auto loadTeacher = [&](const char* key, torch::nn::Module& teacher, const torch::nn::Module& source) {
    torch::serialize::InputArchive saved;
    if (!weightsOnly && root.try_read(key, saved)) {
      teacher.load(saved);
      return;
    }
    torch::NoGradGuard ng;
    auto dst = teacher.named_parameters();
    for (const auto& p : source.named_parameters()) dst[p.key()].copy_(p.value());
    auto dstB = teacher.named_buffers();
    for (const auto& b : source.named_buffers()) dstB[b.key()].copy_(b.value());
  };
  if (fATeacher) {
    loadTeacher("fATeacher", *fATeacher, *fA);
    fATeacher->applyMemoryFormat();
    fATeacher->eval();
  }
  if (onlyAnonymizer) {
    c10::IValue meta;
    root.read("meta", meta);
    return meta.toStringRef();
  }
  readModule(root, "fT", *fT);
  if (fTTeacher) {
    loadTeacher("fTTeacher", *fTTeacher, *fT);
    fTTeacher->eval();
  }
  readModule(root, "fB", *fB);
  if (proj) readModule(root, "proj", *proj);
  if (rotHead) readModule(root, "rotHead", *rotHead);
  if (privHead) readModule(root, "privHead", *privHead);
  // Room networks exist only in room runs: a base trained elsewhere leaves them freshly initialised.
  bool roomNetsLoaded = false;
  if (fU) {
    torch::serialize::InputArchive u;
    if (root.try_read("fU", u)) {
      fU->load(u);
      readModule(root, "fBid", *fBid);
      readModule(root, "projId", *projId);
      roomNetsLoaded = true;
    }
  }
  if (keyEnc_) {
    readModule(root, "keyEnc", *keyEnc_);
    readModule(root, "keyProj", *keyProj_);
    root.read("mocoQueue", queue_, true);
    c10::IValue ptr;
    root.read("mocoQueuePtr", ptr);
    queuePtr_ = ptr.toInt();
  }
  c10::IValue hasOptimizer;
  const bool withOptimizer = !root.try_read("hasOptimizer", hasOptimizer) || hasOptimizer.toBool();
  if (!weightsOnly && withOptimizer) {
    for (auto& [key, opt] : {std::pair<const char*, torch::optim::Adam*>{"optA", optA_.get()}, {"optT", optT_.get()}, {"optB", optB_.get()}}) {
      torch::serialize::InputArchive a;
      root.read(key, a);
      opt->load(a);
    }
    if (roomNetsLoaded) {
      for (auto& [key, opt] : {std::pair<const char*, torch::optim::Adam*>{"optU", optU_.get()}, {"optBid", optBid_.get()}}) {
        torch::serialize::InputArchive a;
        if (root.try_read(key, a)) opt->load(a);
      }
    }
  }
  c10::IValue meta;
  root.read("meta", meta);
  return meta.toStringRef();
}

void Engine::setLearningRate(const std::string& which, double lr) {
  recordThread("Engine::setLearningRate");
  if (!(lr > 0) || !std::isfinite(lr)) throw BadInputError("learning rate must be a positive number");
  torch::optim::Adam* opt = which == "A" ? optA_.get() : which == "T" ? optT_.get() : which == "B" ? optB_.get() : nullptr;
  // Room mode: "T" and "B" are its utility student and identity budget.
  if (cfg_.room && which == "T") opt = optU_.get();
  if (cfg_.room && which == "B") opt = optBid_.get();
  if (!opt) throw BadInputError("setLearningRate: optimizer must be A, T or B, got \"" + which + "\"");
  for (auto& group : opt->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

}  // namespace spact
