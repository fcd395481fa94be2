#pragma once
// The three SPAct networks (paper §3.2): f_A (UNet anonymizer), f_T (3D CNN action model),
// f_B (2D ResNet-style budget model with projection / rotation / privacy heads).
// All are device-agnostic: they run wherever their parameters are moved.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace spact {

struct UNetConfig {
  std::vector<int64_t> widths{16, 32, 64};
  // "bilinear" (1x1 conv then bilinear 2x, as the official SPAct UNet; default), "pixelshuffle"
  // (1x1 conv + pixel shuffle), or "transpose" (ConvTranspose2d: runs through BLAS in libtorch 1.13,
  // slow on CPU — kept for the naive benchmark).
  std::string upsample = "bilinear";
  bool batchNorm = false;
  // NHWC memory layout: oneDNN's convolutions with few channels run ~1.7x faster (measured:
  // f_A train step 185 -> 108 ms, inference at 112² 146 -> 257 fps, 2 threads).
  bool channelsLast = true;
};

struct R3DConfig {
  std::vector<int64_t> widths{16, 32, 64, 128};
  std::vector<int64_t> blocks{1, 1, 1, 1};
};

struct BudgetConfig {
  std::vector<int64_t> widths{16, 32, 64, 128};
  std::vector<int64_t> blocks{1, 1, 1, 1};
  bool bottleneck = false;  // ResNet-50-style bottleneck blocks (expansion 4)
  bool imagenetStem = false;  // 7x7 stride-2 conv + max pool (paper preset) instead of 3x3 stride 2
  int64_t projDim = 128;
};

/** Two 3x3 convolutions (+BN) + ReLU. */
struct DoubleConvImpl : torch::nn::Module {
  DoubleConvImpl(int64_t in, int64_t out, bool bn);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(DoubleConv);

/** f_A: per-frame UNet, sigmoid output in [0, 1]. Input [B, 3, H, W] with H, W divisible by 2^(levels-1). */
struct UNetImpl : torch::nn::Module {
  explicit UNetImpl(const UNetConfig& cfg);
  torch::Tensor forward(torch::Tensor x);
  int64_t divisor() const { return int64_t{1} << (down.size()); }
  /** Re-lays out conv weights in NHWC when cfg.channelsLast (after construction and after loading). */
  void applyMemoryFormat();

  UNetConfig cfg;
  DoubleConv inc{nullptr};
  std::vector<DoubleConv> down;
  std::vector<torch::nn::AnyModule> up;  // channel change + 2x upsampling
  std::vector<DoubleConv> dec;
  torch::nn::Conv2d outc{nullptr};
};
TORCH_MODULE(UNet);

struct BasicBlock3dImpl : torch::nn::Module {
  BasicBlock3dImpl(int64_t in, int64_t out, int64_t stride);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Conv3d c1{nullptr}, c2{nullptr};
  torch::nn::BatchNorm3d b1{nullptr}, b2{nullptr};
  torch::nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(BasicBlock3d);

/** f_T: R3D-style 3D CNN with BatchNorm and global max pooling. Input [B, 3, T, H, W]. */
struct R3DImpl : torch::nn::Module {
  R3DImpl(const R3DConfig& cfg, int64_t numClasses);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential stem{nullptr}, stages{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(R3D);

struct Block2dImpl : torch::nn::Module {
  Block2dImpl(int64_t in, int64_t width, int64_t stride, bool bottleneck);
  torch::Tensor forward(torch::Tensor x);
  int64_t outChannels;
  torch::nn::Sequential body{nullptr}, shortcut{nullptr};
};
TORCH_MODULE(Block2d);

/** f_B backbone: ResNet-style 2D CNN with global average pooling → feature vector. */
struct ResNet2dImpl : torch::nn::Module {
  explicit ResNet2dImpl(const BudgetConfig& cfg);
  torch::Tensor forward(torch::Tensor x);
  int64_t featureDim = 0;
  torch::nn::Sequential stem{nullptr}, stages{nullptr};
};
TORCH_MODULE(ResNet2d);

/** 2-layer projection head with L2-normalised output (SimCLR / MoCo). */
struct ProjectionImpl : torch::nn::Module {
  ProjectionImpl(int64_t in, int64_t out);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Linear l1{nullptr}, l2{nullptr};
};
TORCH_MODULE(Projection);

/**
 * f_U, the utility student of real rooms: a small fully convolutional net from an image to K
 * heatmaps at 1/4 resolution (person presence + body keypoints). Two stride-2 convs, then
 * dilated convs (2, 4, 8) for a receptive field of ~120 px at full resolution — a whole person
 * at the working size — and a 1×1 head. Outputs logits.
 */
struct HeatmapNetImpl : torch::nn::Module {
  HeatmapNetImpl(const std::vector<int64_t>& widths, int64_t outChannels);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential body{nullptr};
  torch::nn::Conv2d head{nullptr};
};
TORCH_MODULE(HeatmapNet);

/** Parameter count of a module (for info and tests). */
int64_t countParameters(const torch::nn::Module& m);

}  // namespace spact
