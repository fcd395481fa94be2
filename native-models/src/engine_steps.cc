// The per-step math of the minimax (paper §3.3): the init of f_A (Eq. 6), of f_T and f_B
// (Eq. 7–8), step 1 (Eq. 9) and step 2 (Eq. 7–8 again), evaluation and inference.
#include "engine.h"

#include "losses.h"
#include "thread_audit.h"
#include "train_guards.h"

namespace F = torch::nn::functional;

namespace spact {

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

}  // namespace spact
