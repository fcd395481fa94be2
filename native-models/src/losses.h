#pragma once
// Losses of SPAct (paper §3): L1 reconstruction (Eq. 4), action CE/BCE, NT-Xent (Eq. 5),
// and the MoCo / RotNet variants of the budget branch (paper Table 5).
#include <torch/torch.h>

namespace spact {

/** Mean absolute error per pixel (Eq. 4 divided by C·H·W, so thresholds do not depend on size). */
torch::Tensor l1Loss(const torch::Tensor& recon, const torch::Tensor& target);

/** Action loss: softmax CE for class indices [N] (int64), BCE-with-logits for multi-hot [N, A]. */
torch::Tensor actionLoss(const torch::Tensor& logits, const torch::Tensor& target, bool multiLabel);

/** Top-1 accuracy (single label) or mean per-label accuracy at 0.5 (multi-label). */
double actionAccuracy(const torch::Tensor& logits, const torch::Tensor& target, bool multiLabel);

/**
 * NT-Xent over N pairs (SimCLR): z1[i] and z2[i] are two frames of clip i. Each of the 2N
 * projections is an anchor whose positive is its pair and whose negatives are the other 2N-2.
 * Inputs need not be normalised (they are, here). Temperature tau (default 0.1 in SPAct).
 */
torch::Tensor ntXent(const torch::Tensor& z1, const torch::Tensor& z2, double tau);

/** MoCo InfoNCE: queries q [N,d] against positive keys k [N,d] and a queue [K,d] of negatives. */
torch::Tensor mocoLoss(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& queue, double tau);

}  // namespace spact
