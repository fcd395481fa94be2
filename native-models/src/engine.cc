// The engine's networks: construction (f_A, f_T, f_B and their heads, optimizers), input checks,
// bookkeeping (parameter counts, fingerprints, learning rates). The per-step math is in
// engine_steps.cc, the budget branch in engine_budget.cc, augmentation and sampling in
// engine_augment.cc, checkpoints in engine_checkpoint.cc, room mode in room.cc.
#include "engine.h"

#include <cmath>
#include <sstream>

#include "thread_audit.h"

namespace F = torch::nn::functional;

namespace spact {

BudgetLoss parseBudgetLoss(const std::string& name) {
  if (name == "ntxent") return BudgetLoss::kNtXent;
  if (name == "moco") return BudgetLoss::kMoco;
  if (name == "rotnet") return BudgetLoss::kRotNet;
  if (name == "supervised") return BudgetLoss::kSupervised;
  throw BadInputError("budgetLoss must be ntxent, moco, rotnet or supervised, got \"" + name + "\"");
}

Sampler parseSampler(const std::string& name) {
  if (name == "random") return Sampler::kRandom;
  if (name == "near") return Sampler::kNear;
  if (name == "far") return Sampler::kFar;
  throw BadInputError("sampler must be random, near or far, got \"" + name + "\"");
}

Teacher parseTeacher(const std::string& name) {
  if (name == "raw") return Teacher::kRaw;
  if (name == "anonymized") return Teacher::kAnonymized;
  throw BadInputError("distillTeacher must be raw or anonymized, got \"" + name + "\"");
}

InitTarget parseInitTarget(const std::string& name) {
  if (name == "identity") return InitTarget::kIdentity;
  if (name == "detail") return InitTarget::kDetail;
  throw BadInputError("room initTarget must be identity or detail, got \"" + name + "\"");
}

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
  const BudgetLoss bl = cfg_.budgetLoss;
  if (bl == BudgetLoss::kSupervised && cfg_.numPrivacy < 1) throw BadInputError("supervised budget mode needs numPrivacy >= 1");

  fA = UNet(cfg_.fA);
  fT = R3D(cfg_.fT, cfg_.numActions);
  fB = ResNet2d(cfg_.fB);
  if (bl == BudgetLoss::kNtXent || bl == BudgetLoss::kMoco) proj = Projection(fB->featureDim, cfg_.fB.projDim);
  if (bl == BudgetLoss::kRotNet) rotHead = torch::nn::Linear(fB->featureDim, 4);
  if (bl == BudgetLoss::kSupervised) privHead = torch::nn::Linear(fB->featureDim, cfg_.numPrivacy);
  fA->to(device_);
  fA->applyMemoryFormat();
  if (cfg_.distill && cfg_.distillTeacher == Teacher::kAnonymized) {
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

  if (bl == BudgetLoss::kMoco) {
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
  utility_ = makeUtilityTerm();
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
  if (cfg_.sampler == Sampler::kFar && t <= cfg_.farMin) {
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

void Engine::checkFinite(const Stats& s, const char* step) const {
  for (const auto& [k, v] : s) {
    if (!std::isfinite(v)) {
      std::ostringstream os;
      os << "non-finite " << k << " (" << v << ") in " << step << "; lower the learning rates or omega";
      throw NonFiniteError(os.str());
    }
  }
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
