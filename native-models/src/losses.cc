#include "losses.h"

namespace F = torch::nn::functional;

namespace spact {

torch::Tensor l1Loss(const torch::Tensor& recon, const torch::Tensor& target) {
  return (recon - target).abs().mean();
}

torch::Tensor actionLoss(const torch::Tensor& logits, const torch::Tensor& target, bool multiLabel) {
  if (multiLabel) return F::binary_cross_entropy_with_logits(logits, target.to(logits.dtype()));
  return F::cross_entropy(logits, target);
}

double actionAccuracy(const torch::Tensor& logits, const torch::Tensor& target, bool multiLabel) {
  torch::NoGradGuard ng;
  if (multiLabel) {
    auto pred = (logits > 0).to(torch::kFloat32);
    return pred.eq(target.to(torch::kFloat32)).to(torch::kFloat32).mean().item<double>();
  }
  return logits.argmax(1).eq(target).to(torch::kFloat32).mean().item<double>();
}

torch::Tensor ntXent(const torch::Tensor& z1, const torch::Tensor& z2, double tau) {
  const int64_t n = z1.size(0);
  auto z = F::normalize(torch::cat({z1, z2}, 0), F::NormalizeFuncOptions().dim(1));
  auto sim = torch::mm(z, z.t()) / tau;
  // An anchor is never its own negative.
  auto self = torch::eye(2 * n, torch::TensorOptions().dtype(torch::kBool).device(z.device()));
  sim = sim.masked_fill(self, -std::numeric_limits<float>::infinity());
  auto idx = torch::arange(2 * n, torch::TensorOptions().dtype(torch::kLong).device(z.device()));
  auto positives = (idx + n) % (2 * n);
  return F::cross_entropy(sim, positives);
}

torch::Tensor mocoLoss(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& queue, double tau) {
  auto pos = (q * k).sum(1, true);
  auto neg = torch::mm(q, queue.t());
  auto logits = torch::cat({pos, neg}, 1) / tau;
  auto labels = torch::zeros({q.size(0)}, torch::TensorOptions().dtype(torch::kLong).device(q.device()));
  return F::cross_entropy(logits, labels);
}

}  // namespace spact
