#pragma once
// The SPAct engine: the three networks, their optimizers and the per-step math of the minimax
// (paper §3.3). The loop that sequences the steps lives in TypeScript (native-models/ts/trainer.ts);
// every method here is one step on one batch, run on the process's compute thread by engine_napi.cc.
// Sources by concern: engine.cc (networks, checks), engine_steps.cc (Eq. 6–9), engine_budget.cc
// (L_B), engine_augment.cc (augmentation, samplers), engine_checkpoint.cc (save/load), room.cc.
#include <torch/torch.h>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "models.h"

namespace spact {

class PhaseClock;  // train_guards.h

/** f_A on frames uint8 [N, H, W, 3] of any size (reflect-padded to its divisor, cropped back);
 *  returns uint8 [N, H, W, 3] on the CPU. Shared by Engine and Anonymizer. */
torch::Tensor anonymizeFrames(UNetImpl& fA, const torch::Device& device, const torch::Tensor& framesNHWC);

// Choices of the config, parsed from their names once (parseEngineConfig), never compared as
// strings in a step.
enum class BudgetLoss { kNtXent, kMoco, kRotNet, kSupervised };
enum class Sampler { kRandom, kNear, kFar };
enum class Teacher { kRaw, kAnonymized };
enum class InitTarget { kIdentity, kDetail };
/** Name → enum; BadInputError names the accepted values. */
BudgetLoss parseBudgetLoss(const std::string& name);
Sampler parseSampler(const std::string& name);
Teacher parseTeacher(const std::string& name);
InitTarget parseInitTarget(const std::string& name);

struct AugmentConfig {
  bool enabled = true;
  double cropMinScale = 0.8;  // random resized crop: area fraction kept
  bool flip = true;
  double jitter = 0.2;  // brightness / contrast / saturation strength
  double eraseProb = 0.25;  // random erasing of one rectangle per clip
};

struct EngineConfig {
  UNetConfig fA;
  R3DConfig fT;
  BudgetConfig fB;
  int64_t numActions = 8;
  bool multiLabelActions = false;
  int64_t numPrivacy = 0;  // supervised budget mode only
  // Budget branch: "ntxent" (SPAct default), "moco", "rotnet", or "supervised" (Wu et al. baseline).
  BudgetLoss budgetLoss = BudgetLoss::kNtXent;
  bool freezeBudget = false;  // paper Table 3 "Spatial (Frozen)": f_B is never updated in step 2
  double temperature = 0.1;
  int64_t mocoQueue = 1024;
  double mocoMomentum = 0.99;
  double omega = 0.5;  // weight of L_B in step 1 (Eq. 9)
  // Frames of each clip given to f_T: clipFrames frames taken every frameStride frames.
  int64_t clipFrames = 8;
  int64_t frameStride = 1;
  // Temporal sampler S_F for the two frames of the SSL pair: "random", "near" (< nearMax apart),
  // "far" (> farMin apart).
  Sampler sampler = Sampler::kRandom;
  int64_t nearMax = 8;
  int64_t farMin = 64;
  // Room adaptation (no action labels): f_T is the frozen base action model and utility is kept by
  // distillation — its predictions on raw clips vs on anonymized clips (KL at distillTemperature).
  // Clips tagged by an operator (action >= 0) add a cross-entropy term; -1 means untagged.
  bool distill = false;
  double distillTemperature = 2.0;
  // What the teacher sees: "raw" clips, or "anonymized" = the clips through the frozen base f_A
  // (the input f_T was trained on in the base's minimax). A raw teacher is matched exactly by an
  // identity f_A, so its distillation term pulls f_A back towards the input.
  Teacher distillTeacher = Teacher::kRaw;
  // false: f_T is the frozen base action model (student and teacher at once). true: a frozen copy
  // is the teacher and f_T keeps learning its soft labels on f_A's output in every step 2, as in the
  // SPAct minimax — f_A can fool one frozen action model, not one that keeps adapting.
  bool distillAdaptT = false;
  // Real rooms (no labels of any kind, room.cc): utility comes from pseudo-labels that pretrained
  // person and pose models gave on the raw footage (heatmaps: person presence + body keypoints),
  // reproduced from f_A's output by a student f_U trained on raw frames and then frozen (a fixed
  // natural-image model, like the cloud's); privacy from an identity budget f_Bid on person crops
  // of f_A's output — NT-Xent in which the positive is the same person at another time and the
  // negatives are other people: what linkage attacks. Batches hold 2B single frames, i and i+B
  // being the same person; f_T is not used.
  bool room = false;
  int64_t heatmaps = 18;
  std::vector<int64_t> studentWidths{32, 64, 64};
  double utilityPosWeight = 9.0;  // heatmap BCE weight 1 + w·target: people are a small part of a frame
  double omegaId = 0.5;  // weight of the identity budget in step 1
  bool adaptStudent = false;  // true: f_U keeps learning on f_A's output in step 2 (SPAct's f_T role)
  int64_t idCropW = 32, idCropH = 64;  // person crops given to f_Bid
  // Structure kept, appearance free: f_A's luminance detail (luma minus its local mean over
  // (2r+1)² twice, r = structureRadius) must match the input's — edges and shape stay, colour and
  // the shading of clothes may go. Weight 0 turns it off.
  double structureWeight = 0.0;
  int64_t structureRadius = 6;
  // What f_A's init (Eq. 6) reconstructs: "identity" (SPAct), or "detail" — grey 0.5 plus the
  // luminance detail (radius structureRadius) times detailGain: a classic appearance-free prior
  // (colour and the shading of clothes gone, edges and shape kept) the minimax starts from.
  InitTarget initTarget = InitTarget::kIdentity;
  double detailGain = 1.2;
  double lrA = 1e-4, lrT = 1e-4, lrB = 1e-4;
  double weightDecay = 0.0;
  AugmentConfig augment;
  std::string device = "auto";
  int64_t threads = 0;  // 0: leave libtorch's setting
  int64_t seed = 0;
};

/** One batch of clips: frames uint8 [N, T, H, W, 3]; labels optional depending on the step. */
struct Batch {
  torch::Tensor frames;
  torch::Tensor actions;  // int64 [N] or float [N, A]; undefined when absent
  torch::Tensor privacy;  // float [N, P]; undefined when absent
  torch::Tensor heatmaps;  // room mode: float [N, K, H/4, W/4] pseudo-label targets
  torch::Tensor boxes;  // room mode: float [N, 4] the person's box (x0, y0, x1, y1) in [0, 1]
};

using Stats = std::map<std::string, double>;

/** Thrown for a loss that became NaN/inf: the caller must not checkpoint this state. */
struct NonFiniteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/** Thrown for inputs that do not fit the engine (shapes, missing labels). */
struct BadInputError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

class Engine {
 public:
  explicit Engine(EngineConfig cfg);
  ~Engine();

  // Eq. 6: identity initialisation of f_A by L1 reconstruction.
  Stats initA(const Batch& b);
  // Eq. 7–8 once on f_A's output, f_A fixed: one update of f_T and/or f_B. The init repeats it
  // until the thresholds; step 2 of the minimax is one call of it (stepTB).
  Stats trainTB(const Batch& b, bool updateT, bool updateB);
  // Eq. 9 (step 1): update f_A on L_T − ω·L_B; f_T and f_B are frozen but pass gradients. L_T is
  // the run's utility term (UtilityTerm): action labels, distillation, or the room's student.
  Stats stepA(const Batch& b);
  // Step 2: update f_T and f_B on the next batch with f_A fixed (f_B skipped when frozen).
  Stats stepTB(const Batch& b);
  // Losses and accuracy without any update (eval mode, no grad).
  Stats evaluate(const Batch& b);
  // f_A on frames uint8 [N, H, W, 3] of any size; returns uint8 [N, H, W, 3] on the CPU.
  torch::Tensor anonymize(const torch::Tensor& framesNHWC) { return anonymizeFrames(*fA, device_, framesNHWC); }

  /** Writes weights (+ optimizer state unless weightsOnly) and the meta string. */
  void save(const std::string& path, const std::string& meta, bool weightsOnly = false);
  /** Loads weights (and optimizer state unless weightsOnly); returns the checkpoint's meta string. */
  std::string load(const std::string& path, bool weightsOnly, bool onlyAnonymizer = false);
  static std::string readMeta(const std::string& path);

  const EngineConfig& config() const { return cfg_; }
  torch::Device device() const { return device_; }
  Stats parameterCounts() const;
  /** Sum of |w| per network: lets tests prove which networks a step changed. */
  Stats fingerprint() const;
  /** Sets the Adam learning rate of one optimizer ("A", "T" or "B"); also after load(), which
   *  restores the rate saved with the optimizer state. */
  void setLearningRate(const std::string& which, double lr);
  /** Profiling: steps add the wall time of their phases to their stats as ms_<phase>
   *  (bench:engine); step 1 then runs its backward network by network (same gradients). */
  void setProfiling(bool on) { profile_ = on; }

  UNet fA{nullptr};
  R3D fT{nullptr};
  ResNet2d fB{nullptr};
  Projection proj{nullptr};  // ntxent / moco
  torch::nn::Linear rotHead{nullptr};  // rotnet
  torch::nn::Linear privHead{nullptr};  // supervised
  HeatmapNet fU{nullptr};  // room mode: utility student
  ResNet2d fBid{nullptr};  // room mode: identity budget on person crops
  Projection projId{nullptr};
  UNet fATeacher{nullptr};  // distillTeacher "anonymized": the base f_A, frozen
  R3D fTTeacher{nullptr};  // distillAdaptT: the base f_T, frozen

  /**
   * The utility term L_T of Eq. 9 — what f_A must keep — for each kind of run: action labels
   * through f_T (SPAct), distillation of the base f_T's predictions (fine-tuning), or the room
   * student f_U's pose/person heatmaps (real rooms). Chosen once at construction; step 1 and the
   * utility update of step 2 (Eq. 7) both call it. Nested in Engine: it uses the engine's nets.
   */
  class UtilityTerm {
   public:
    explicit UtilityTerm(Engine& engine) : e(engine) {}
    virtual ~UtilityTerm() = default;
    /** The network that judges utility ("fT", "fU"): names the phases of a profiled step. */
    virtual const char* net() const = 0;
    /** The kind of run, for error messages ("minimax", "fine-tuning", "room"). */
    virtual const char* run() const = 0;
    virtual bool needsActions() const { return false; }
    /** Step 1 freezes the utility net: sets its mode, returns the modules that keep computing
     *  batch statistics without updating them (BatchStatsNoUpdate), and its weights. */
    virtual std::vector<torch::nn::Module*> freezeForStep1() = 0;
    virtual std::vector<torch::Tensor> parameters() const = 0;
    /** Before f_A runs on x: draws the clip window, computes what does not depend on f_A. */
    virtual void begin(const torch::Tensor& x) {}
    /** L_T on f_A's output a; adds its own stats (acc_T, distill) to s. */
    virtual torch::Tensor loss(const torch::Tensor& a, const Batch& b, Stats& s) = 0;

   protected:
    Engine& e;
  };

 private:
  class ActionTerm;
  class DistillTerm;
  class StudentTerm;
  std::unique_ptr<UtilityTerm> makeUtilityTerm();
  torch::Tensor fixedA(const torch::Tensor& x);  // f_A(x) in eval mode, no gradient
  torch::Tensor stepInput(const Batch& b);  // clips [N,T,3,H,W] augmented, or a room's frames [N,3,H,W]
  void updateUtility(const torch::Tensor& x, const torch::Tensor& a, const Batch& b, Stats& s, PhaseClock& clock,
                     const char* step);
  void updateBudget(const torch::Tensor& a, const Batch& b, Stats& s, PhaseClock& clock);
  void momentumUpdate();  // MoCo key encoder ← m·key + (1−m)·f_B
  struct Prepared {
    torch::Tensor frames;  // float [N, T, 3, H, W] on device, augmented
  };
  Prepared prepare(const Batch& b, bool augment);
  torch::Tensor applyA(const torch::Tensor& frames);  // [N,T,3,H,W] or [N,3,H,W] → same
  torch::Tensor teacherInput(const torch::Tensor& frames);  // raw, or through the frozen base f_A
  torch::Tensor clipForT(const torch::Tensor& frames);  // → [N,3,Tc,H,W], random window
  int64_t sampleWindow(int64_t t);
  torch::Tensor clipAt(const torch::Tensor& frames, int64_t start);
  Stats distillEvaluate(const Batch& b);
  Stats distillStepTB(const Batch& b);
  torch::Tensor teacherLogits(const torch::Tensor& frames, int64_t start);  // no grad
  std::pair<torch::Tensor, torch::Tensor> samplePair(const torch::Tensor& frames);  // two [N,3,H,W]
  torch::Tensor budgetLoss(const torch::Tensor& frames, const Batch& b, bool updateQueue);
  std::vector<torch::Tensor> budgetParameters() const;
  // Room mode (room.cc): the init, minimax steps and evaluation of real rooms.
  Stats roomInit(const Batch& b, bool updateU, bool updateB);
  Stats roomStepB(const Batch& b);
  Stats roomEvaluate(const Batch& b);
  void checkRoomBatch(const Batch& b) const;
  torch::Tensor utilityLoss(const torch::Tensor& logits, const torch::Tensor& target) const;
  torch::Tensor personCrops(const torch::Tensor& images, const torch::Tensor& boxes) const;
  torch::Tensor structureLoss(const torch::Tensor& out, const torch::Tensor& in) const;
  torch::Tensor detailPrior(const torch::Tensor& images) const;  // [N,3,H,W] → the "detail" init target
  torch::Tensor identityLoss(const torch::Tensor& images, const torch::Tensor& boxes);
  void backwardIntoA(const torch::Tensor& a, const torch::Tensor& utility, const torch::Tensor& budget, double omega,
                     const torch::Tensor& total, PhaseClock& clock, const char* utilityNet, const char* budgetNet,
                     bool extraTerms);
  std::vector<torch::Tensor> identityParameters() const;
  void checkFinite(const Stats& s, const char* step) const;
  void checkBatch(const Batch& b, bool needActions, bool needPrivacy) const;

  EngineConfig cfg_;
  torch::Device device_{torch::kCPU};
  std::unique_ptr<torch::optim::Adam> optA_, optT_, optB_, optU_, optBid_;
  // MoCo: momentum key encoder and the negative queue.
  ResNet2d keyEnc_{nullptr};
  Projection keyProj_{nullptr};
  torch::Tensor queue_;
  int64_t queuePtr_ = 0;
  std::mt19937_64 rng_;
  bool profile_ = false;
  std::unique_ptr<UtilityTerm> utility_;
};

/** Resolves "auto" | "cpu" | "cuda" | "cuda:N" to a device; "auto" picks CUDA when available. */
torch::Device resolveDevice(const std::string& spec);

/**
 * Inference only: f_A and nothing else (no f_T, f_B, optimizers), for anonymizing clips and live
 * frames. Loads the "fA" entry of any SPAct checkpoint; anonymize() is Engine::anonymize's math.
 */
class Anonymizer {
 public:
  Anonymizer(const UNetConfig& cfg, const std::string& device);
  /** Loads f_A's weights; returns the checkpoint's meta string. */
  std::string load(const std::string& path);
  torch::Tensor anonymize(const torch::Tensor& framesNHWC) { return anonymizeFrames(*fA, device_, framesNHWC); }
  torch::Device device() const { return device_; }
  /** Sum of |w| of f_A (the engine's fingerprint()["fA"]). */
  double fingerprint() const;

  UNet fA{nullptr};

 private:
  torch::Device device_{torch::kCPU};
};

}  // namespace spact
