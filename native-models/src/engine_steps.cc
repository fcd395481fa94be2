// The per-step math of the minimax (paper §3.3), in the paper's order:
//   Eq. 6  init of f_A:  θ_A ← θ_A − α_A ∇_θA L_L1(θ_A)                      initA
//   Eq. 7  f_T:          θ_T ← θ_T − α_T ∇_θT L_T(θ_T, θ_A)                  trainTB (updateUtility)
//   Eq. 8  f_B:          θ_B ← θ_B − α_B ∇_θB L_B(θ_B, θ_A)                  trainTB (updateBudget)
//   Eq. 9  step 1:       θ_A ← θ_A − α_A ∇_θA (L_T(θ_A, θ_T) − ω L_B(θ_A, θ_B))   stepA
//          step 2:       Eq. 7 and 8 on the next batch, f_A fixed                stepTB
// L_T is the run's utility term (UtilityTerm below); L_B is NT-Xent (Eq. 5) or a variant
// (engine_budget.cc), or in a real room the identity budget on person crops (room.cc).
#include "engine.h"

#include <string>

#include "losses.h"
#include "thread_audit.h"
#include "train_guards.h"

namespace F = torch::nn::functional;

namespace spact {

namespace {
/** KL(teacher ‖ student) on softened distributions, scaled by τ² (Hinton et al.). */
torch::Tensor distillLoss(const torch::Tensor& teacherLogits, const torch::Tensor& studentLogits, double tau) {
  auto p = torch::softmax(teacherLogits / tau, 1);
  auto logq = torch::log_softmax(studentLogits / tau, 1);
  return (p * (torch::log(p.clamp_min(1e-12)) - logq)).sum(1).mean() * (tau * tau);
}

double agreement(const torch::Tensor& student, const torch::Tensor& teacher) {
  return student.argmax(1).eq(teacher.argmax(1)).to(torch::kFloat32).mean().item<double>();
}

/**
 * Evaluation draws its clip window and frame pair from a fixed seed, so two evaluations of the
 * same batch differ only by the weights; the training RNG is restored on every exit path.
 */
class EvalRng {
 public:
  EvalRng(std::mt19937_64& rng, int64_t seed) : rng_(rng), saved_(rng) { rng_.seed(static_cast<uint64_t>(seed) + 0x5EEDULL); }
  ~EvalRng() { rng_ = saved_; }

 private:
  std::mt19937_64& rng_;
  std::mt19937_64 saved_;
};
}  // namespace

// ---- Utility terms L_T -------------------------------------------------------------------------

/** SPAct: f_T's action loss on a random window of f_A's clips (CE, or BCE for multi-label). */
class Engine::ActionTerm : public Engine::UtilityTerm {
 public:
  using UtilityTerm::UtilityTerm;
  const char* net() const override { return "fT"; }
  const char* run() const override { return "minimax"; }
  bool needsActions() const override { return true; }
  std::vector<torch::nn::Module*> freezeForStep1() override { return {e.fT.get()}; }
  std::vector<torch::Tensor> parameters() const override { return e.fT->parameters(); }
  void begin(const torch::Tensor& x) override { start_ = e.sampleWindow(x.size(1)); }
  torch::Tensor loss(const torch::Tensor& a, const Batch& b, Stats& s) override {
    auto logits = e.fT->forward(e.clipAt(a, start_));
    auto actions = b.actions.to(e.device_);
    s["acc_T"] = actionAccuracy(logits, actions, e.cfg_.multiLabelActions);
    return actionLoss(logits, actions, e.cfg_.multiLabelActions);
  }

 private:
  int64_t start_ = 0;
};

/**
 * Fine-tuning: KL between the teacher's predictions (the frozen base f_T on raw or base-anonymized
 * clips) and f_T's on f_A's clips, plus CE on the clips an operator tagged (action ≥ 0).
 */
class Engine::DistillTerm : public Engine::UtilityTerm {
 public:
  using UtilityTerm::UtilityTerm;
  const char* net() const override { return "fT"; }
  const char* run() const override { return "fine-tuning"; }
  std::vector<torch::nn::Module*> freezeForStep1() override { return {e.fT.get()}; }
  std::vector<torch::Tensor> parameters() const override { return e.fT->parameters(); }
  void begin(const torch::Tensor& x) override {
    start_ = e.sampleWindow(x.size(1));
    teacher_ = e.teacherLogits(x, start_);
  }
  torch::Tensor loss(const torch::Tensor& a, const Batch& b, Stats& s) override {
    auto student = e.fT->forward(e.clipAt(a, start_));
    auto ld = distillLoss(teacher_, student, e.cfg_.distillTemperature);
    auto lt = ld;
    if (b.actions.defined() && !e.cfg_.multiLabelActions) {
      auto labels = b.actions.to(e.device_);
      auto tagged = labels >= 0;
      if (tagged.any().item<bool>()) lt = lt + F::cross_entropy(student.index({tagged}), labels.index({tagged}));
    }
    s["distill"] = ld.item<double>();
    s["acc_T"] = agreement(student, teacher_);
    return lt;
  }

 private:
  int64_t start_ = 0;
  torch::Tensor teacher_;
};

/** Real rooms: the student f_U's heatmap loss against the pretrained judges' pseudo-labels. */
class Engine::StudentTerm : public Engine::UtilityTerm {
 public:
  using UtilityTerm::UtilityTerm;
  const char* net() const override { return "fU"; }
  const char* run() const override { return "room"; }
  // f_U is a fixed model in step 1: its running statistics (of what it learnt on), no batch's.
  std::vector<torch::nn::Module*> freezeForStep1() override {
    e.fU->eval();
    return {};
  }
  std::vector<torch::Tensor> parameters() const override { return e.fU->parameters(); }
  torch::Tensor loss(const torch::Tensor& a, const Batch& b, Stats&) override {
    return e.utilityLoss(e.fU->forward(a), b.heatmaps.to(e.device_));
  }
};

std::unique_ptr<Engine::UtilityTerm> Engine::makeUtilityTerm() {
  if (cfg_.room) return std::make_unique<StudentTerm>(*this);
  if (cfg_.distill) return std::make_unique<DistillTerm>(*this);
  return std::make_unique<ActionTerm>(*this);
}

Engine::~Engine() = default;

// ---- f_A and the teacher -----------------------------------------------------------------------

torch::Tensor Engine::applyA(const torch::Tensor& frames) {
  if (frames.dim() == 4) return fA->forward(frames);  // a room's single frames
  const auto s = frames.sizes();
  auto y = fA->forward(frames.reshape({s[0] * s[1], s[2], s[3], s[4]}));
  return y.reshape(s);
}

torch::Tensor Engine::fixedA(const torch::Tensor& x) {
  torch::NoGradGuard ng;
  fA->eval();
  return applyA(x);
}

torch::Tensor Engine::stepInput(const Batch& b) {
  // Room batches are crops already jittered by the dataset: no clip augmentation.
  return cfg_.room ? prepare(b, false).frames.select(1, 0) : prepare(b, true).frames;
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

// ---- Eq. 6: init of f_A -----------------------------------------------------------------------

Stats Engine::initA(const Batch& b) {
  recordThread("Engine::initA");
  checkBatch(b, false, false);
  fA->train();
  auto x = prepare(b, true).frames;
  auto recon = applyA(x);
  // Room mode may start f_A from the detail prior instead of the identity (engine.h, initTarget).
  const bool detail = cfg_.room && cfg_.initTarget == InitTarget::kDetail;
  torch::Tensor target = x;
  if (detail) {
    torch::NoGradGuard ng;
    const auto sz = x.sizes();
    target = detailPrior(x.reshape({sz[0] * sz[1], sz[2], sz[3], sz[4]})).reshape(sz);
  }
  auto loss = l1Loss(recon, target);  // L_L1 (Eq. 4)
  Stats s{{"l1", loss.item<double>()}};
  checkFinite(s, "init-A");
  optA_->zero_grad();
  loss.backward();
  optA_->step();  // Eq. 6
  return s;
}

// ---- Eq. 7–8: f_T and f_B on f_A's output, f_A fixed -------------------------------------------

Stats Engine::trainTB(const Batch& b, bool updateT, bool updateB) {
  recordThread("Engine::trainTB");
  if (cfg_.room) return roomInit(b, updateT, updateB);
  checkBatch(b, updateT && utility_->needsActions(), updateB && cfg_.budgetLoss == BudgetLoss::kSupervised);
  Stats s, ms;
  PhaseClock clock(profile_, device_, ms);
  auto x = prepare(b, true).frames;
  clock.mark("copies");
  auto a = fixedA(x);
  clock.mark("fA_fwd");
  if (updateT) updateUtility(x, a, b, s, clock, "init-T");  // Eq. 7
  if (updateB) updateBudget(a, b, s, clock);  // Eq. 8
  s.insert(ms.begin(), ms.end());
  return s;
}

/** Eq. 7: θ_T ← θ_T − α_T ∇_θT L_T(θ_T, θ_A) on f_A's output a of the prepared input x. */
void Engine::updateUtility(const torch::Tensor& x, const torch::Tensor& a, const Batch& b, Stats& s, PhaseClock& clock,
                           const char* step) {
  fT->train();
  utility_->begin(x);
  auto lt = utility_->loss(a, b, s);
  clock.mark("fT_fwd");
  s["loss_T"] = lt.item<double>();
  checkFinite(s, step);
  clock.mark("stats");
  optT_->zero_grad();
  lt.backward();
  clock.mark("fT_bwd");
  optT_->step();
  clock.mark("optimizer");
}

/** Eq. 8: θ_B ← θ_B − α_B ∇_θB L_B(θ_B, θ_A); MoCo's queue and key encoder follow. */
void Engine::updateBudget(const torch::Tensor& a, const Batch& b, Stats& s, PhaseClock& clock) {
  fB->train();
  auto lb = budgetLoss(a, b, /*updateQueue=*/true);
  clock.mark("fB_fwd");
  s["loss_B"] = lb.item<double>();
  checkFinite(s, "init-B");
  clock.mark("stats");
  optB_->zero_grad();
  lb.backward();
  clock.mark("fB_bwd");
  optB_->step();
  if (cfg_.budgetLoss == BudgetLoss::kMoco) momentumUpdate();
  clock.mark("optimizer");
}

// ---- Eq. 9: step 1 ------------------------------------------------------------------------------

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
  checkBatch(b, utility_->needsActions(), cfg_.budgetLoss == BudgetLoss::kSupervised);
  const std::string uNet = utility_->net(), bNet = cfg_.room ? "fBid" : "fB";
  Stats s, ms;
  PhaseClock clock(profile_, device_, ms);
  auto x = stepInput(b);
  fA->train();
  // f_T and f_B (a room: f_U and f_Bid) are frozen in step 1: no weight gradients, running
  // statistics untouched — gradients still flow through them into f_A.
  auto statsNets = utility_->freezeForStep1();
  auto frozenWeights = utility_->parameters();
  if (cfg_.room) {
    statsNets.insert(statsNets.end(), {fBid.get(), projId.get()});
    for (const auto& p : identityParameters()) frozenWeights.push_back(p);
  } else {
    statsNets.insert(statsNets.end(), {fB.get(), proj ? proj.get() : nullptr});
    for (const auto& p : budgetParameters()) frozenWeights.push_back(p);
  }
  BatchStatsNoUpdate frozenStats(statsNets);
  NoWeightGrad frozen(frozenWeights);
  utility_->begin(x);  // the clip window; a teacher's logits
  clock.mark("copies");
  {
    auto a = applyA(x);  // f_A(x; θ_A)
    clock.mark("fA_fwd");
    auto lt = utility_->loss(a, b, s);  // L_T(θ_A, θ_T)
    clock.mark((uNet + "_fwd").c_str());
    // L_B(θ_A, θ_B): the budget of this run (a room: identity linkage of person crops).
    auto lb = cfg_.room ? identityLoss(a, b.boxes.to(device_)) : budgetLoss(a, b, /*updateQueue=*/false);
    clock.mark((bNet + "_fwd").c_str());
    const double omega = cfg_.room ? cfg_.omegaId : cfg_.omega;
    auto loss = lt - omega * lb;  // Eq. 9: keep the utility, lose the budget
    const bool structure = cfg_.room && cfg_.structureWeight > 0;
    if (structure) {
      // Rooms: f_A's luminance detail must match the input's (engine.h, structureWeight).
      auto ls = structureLoss(a, x);
      loss = loss + cfg_.structureWeight * ls;
      s["structure"] = ls.item<double>();
    }
    s["loss_T"] = lt.item<double>();
    s["loss_B"] = lb.item<double>();
    s["l1"] = l1Loss(a.detach(), x).item<double>();
    checkFinite(s, (std::string(utility_->run()) + " step 1").c_str());
    clock.mark("stats");
    optA_->zero_grad();
    backwardIntoA(a, lt, lb, omega, loss, clock, (uNet + "_bwd").c_str(), (bNet + "_bwd").c_str(), structure);
    optA_->step();  // θ_A ← θ_A − α_A ∇_θA (L_T − ω L_B)
    clock.mark("optimizer");
  }
  s.insert(ms.begin(), ms.end());
  return s;
}

// ---- Step 2 ------------------------------------------------------------------------------------

Stats Engine::stepTB(const Batch& b) {
  recordThread("Engine::stepTB");
  if (cfg_.room) return roomStepB(b);
  // Fine-tuning keeps the base f_T frozen (it is the teacher) unless a frozen copy teaches it.
  if (cfg_.distill && cfg_.distillAdaptT) return distillStepTB(b);
  return trainTB(b, /*updateT=*/!cfg_.distill, /*updateB=*/!cfg_.freezeBudget);
}

/**
 * Step 2 of a fine-tune whose f_T adapts: f_B (Eq. 8), then f_T on the teacher's soft labels (Eq. 7
 * with distillation as L_T). Each update sees its own augmented view of the batch, so f_A runs once
 * per view: one shared view changes the runs' numbers whenever augmentation is on.
 */
Stats Engine::distillStepTB(const Batch& b) {
  Stats s = cfg_.freezeBudget ? Stats{} : trainTB(b, /*updateT=*/false, /*updateB=*/true);
  Stats ms;
  PhaseClock clock(profile_, device_, ms);
  auto x = prepare(b, true).frames;
  clock.mark("copies");
  auto a = fixedA(x);
  clock.mark("fA_fwd");
  updateUtility(x, a, b, s, clock, "fine-tuning step 2");
  for (const auto& [k, v] : ms) s[k] += v;
  return s;
}

// ---- Evaluation and inference ------------------------------------------------------------------

Stats Engine::evaluate(const Batch& b) {
  recordThread("Engine::evaluate");
  if (cfg_.room) return roomEvaluate(b);
  if (cfg_.distill) return distillEvaluate(b);
  checkBatch(b, b.actions.defined(), cfg_.budgetLoss == BudgetLoss::kSupervised);
  torch::NoGradGuard ng;
  EvalRng fixedDraws(rng_, cfg_.seed);
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

Stats Engine::distillEvaluate(const Batch& b) {
  checkBatch(b, false, false);
  torch::NoGradGuard ng;
  EvalRng fixedDraws(rng_, cfg_.seed);
  fA->eval();
  BatchStatsNoUpdate batchStats{fT.get(), fB.get(), proj ? proj.get() : nullptr};
  auto x = prepare(b, false).frames;
  auto a = applyA(x);
  const int64_t s0 = sampleWindow(x.size(1));
  auto teacher = teacherLogits(x, s0);
  auto student = fT->forward(clipAt(a, s0));
  Stats s{{"l1", l1Loss(a, x).item<double>()}};
  // loss_T is the distillation term alone: tagged clips' CE would make evaluations incomparable.
  s["distill"] = distillLoss(teacher, student, cfg_.distillTemperature).item<double>();
  s["loss_T"] = s["distill"];
  s["acc_T"] = agreement(student, teacher);
  s["loss_B"] = budgetLoss(a, b, false).item<double>();
  return s;
}

torch::Tensor anonymizeFrames(UNetImpl& fA, const torch::Device& device, const torch::Tensor& framesNHWC) {
  recordThread("anonymize");
  if (!framesNHWC.defined() || framesNHWC.dim() != 4 || framesNHWC.size(3) != 3 || framesNHWC.scalar_type() != torch::kUInt8) {
    throw BadInputError("frames must be uint8 [N, H, W, 3]");
  }
  if (framesNHWC.size(0) == 0) return framesNHWC.clone();
  torch::InferenceMode guard;
  fA.eval();
  auto x = framesNHWC.to(device).permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0);
  const int64_t h = x.size(2), w = x.size(3), div = fA.divisor();
  const int64_t ph = (div - h % div) % div, pw = (div - w % div) % div;
  if (ph || pw) {
    // Reflect-pad to a size the UNet accepts, then crop back: any frame size works.
    const bool reflectOk = ph < h && pw < w;
    auto opts = F::PadFuncOptions({0, pw, 0, ph});
    if (reflectOk) opts.mode(torch::kReflect);
    else opts.mode(torch::kReplicate);
    x = F::pad(x, opts);
  }
  auto y = fA.forward(x);
  if (ph || pw) y = y.slice(2, 0, h).slice(3, 0, w);
  return y.mul(255.0).round_().clamp_(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous().to(torch::kCPU);
}

}  // namespace spact
