// The budget branch f_B (paper §3.3, Eq. 5 and 8): NT-Xent (SPAct), MoCo, RotNet (Table 5) or
// supervised privacy attributes (Wu et al.).
#include "engine.h"

#include "losses.h"

namespace F = torch::nn::functional;

namespace spact {

std::vector<torch::Tensor> Engine::budgetParameters() const {
  auto params = fB->parameters();
  for (const auto& head : {proj ? proj->parameters() : std::vector<torch::Tensor>{},
                           rotHead ? rotHead->parameters() : std::vector<torch::Tensor>{},
                           privHead ? privHead->parameters() : std::vector<torch::Tensor>{}}) {
    params.insert(params.end(), head.begin(), head.end());
  }
  return params;
}

/**
 * L_B on f_A's output: a pair of frames per clip from the temporal sampler S_F, through f_B and
 * the run's head. updateQueue: step 2 (Eq. 8) pushes MoCo's keys; step 1 leaves the queue alone.
 */
torch::Tensor Engine::budgetLoss(const torch::Tensor& frames, const Batch& b, bool updateQueue) {
  auto [f1, f2] = samplePair(frames);
  switch (cfg_.budgetLoss) {
    case BudgetLoss::kSupervised: {
      // Wu et al.: f_B predicts the privacy attributes of a frame (multi-label BCE).
      auto logits = privHead->forward(fB->forward(torch::cat({f1, f2}, 0)));
      auto target = b.privacy.to(device_).to(torch::kFloat32).repeat({2, 1});
      return F::binary_cross_entropy_with_logits(logits, target);
    }
    case BudgetLoss::kRotNet: {
      // Which of 4 rotations each frame was given (Table 5).
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
    case BudgetLoss::kNtXent: {
      // Eq. 5. One pass through f_B for both frames: BatchNorm sees the whole 2N batch.
      const int64_t n = f1.size(0);
      auto z = proj->forward(fB->forward(torch::cat({f1, f2}, 0)));
      return ntXent(z.slice(0, 0, n), z.slice(0, n), cfg_.temperature);
    }
    case BudgetLoss::kMoco:
      break;
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

void Engine::momentumUpdate() {
  torch::NoGradGuard ng;
  const double m = cfg_.mocoMomentum;
  auto src = fB->parameters(), dst = keyEnc_->parameters();
  for (size_t i = 0; i < src.size(); ++i) dst[i].mul_(m).add_(src[i], 1 - m);
  auto ps = proj->parameters(), pd = keyProj_->parameters();
  for (size_t i = 0; i < ps.size(); ++i) pd[i].mul_(m).add_(ps[i], 1 - m);
}

}  // namespace spact
