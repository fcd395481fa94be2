#include "models.h"

#include <stdexcept>

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace spact {

namespace {

nn::Conv2d conv2d(int64_t in, int64_t out, int64_t k, int64_t stride = 1, bool bias = true) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(bias));
}

/** 1x1 conv to 4·out channels + pixel shuffle: the same function class as a 2x2/stride-2 transposed
 * conv, but it stays on oneDNN instead of libtorch 1.13's BLAS path for ConvTranspose2d. */
struct PixelShuffleUpImpl : nn::Module {
  PixelShuffleUpImpl(int64_t in, int64_t out)
      : conv(register_module("conv", conv2d(in, out * 4, 1))), shuffle(nn::PixelShuffleOptions(2)) {}
  torch::Tensor forward(torch::Tensor x) { return shuffle(conv(x)); }
  nn::Conv2d conv;
  nn::PixelShuffle shuffle;
};
TORCH_MODULE(PixelShuffleUp);

struct BilinearUpImpl : nn::Module {
  BilinearUpImpl(int64_t in, int64_t out) : conv(register_module("conv", conv2d(in, out, 1))) {}
  torch::Tensor forward(torch::Tensor x) {
    auto y = conv(x);
    return F::interpolate(y, F::InterpolateFuncOptions()
                                 .scale_factor(std::vector<double>{2.0, 2.0})
                                 .mode(torch::kBilinear)
                                 .align_corners(false));
  }
  nn::Conv2d conv;
};
TORCH_MODULE(BilinearUp);

struct TransposeUpImpl : nn::Module {
  TransposeUpImpl(int64_t in, int64_t out)
      : conv(register_module("conv", nn::ConvTranspose2d(nn::ConvTranspose2dOptions(in, out, 2).stride(2)))) {}
  torch::Tensor forward(torch::Tensor x) { return conv(x); }
  nn::ConvTranspose2d conv;
};
TORCH_MODULE(TransposeUp);

void checkWidths(const std::vector<int64_t>& w, const char* what, size_t minLen) {
  if (w.size() < minLen) throw std::invalid_argument(std::string(what) + ": needs at least " + std::to_string(minLen) + " widths");
  for (auto x : w)
    if (x <= 0 || x > 4096) throw std::invalid_argument(std::string(what) + ": widths must be in 1..4096");
}

}  // namespace

DoubleConvImpl::DoubleConvImpl(int64_t in, int64_t out, bool bn) {
  body = nn::Sequential();
  body->push_back(conv2d(in, out, 3, 1, !bn));
  if (bn) body->push_back(nn::BatchNorm2d(out));
  body->push_back(nn::ReLU(nn::ReLUOptions(true)));
  body->push_back(conv2d(out, out, 3, 1, !bn));
  if (bn) body->push_back(nn::BatchNorm2d(out));
  body->push_back(nn::ReLU(nn::ReLUOptions(true)));
  register_module("body", body);
}

torch::Tensor DoubleConvImpl::forward(torch::Tensor x) { return body->forward(x); }

UNetImpl::UNetImpl(const UNetConfig& c) : cfg(c) {
  checkWidths(c.widths, "fA.widths", 2);
  const auto& w = c.widths;
  inc = register_module("inc", DoubleConv(3, w[0], c.batchNorm));
  for (size_t i = 1; i < w.size(); ++i) {
    down.push_back(register_module("down" + std::to_string(i), DoubleConv(w[i - 1], w[i], c.batchNorm)));
  }
  // Decoder from the deepest level back to level 0.
  for (size_t i = w.size() - 1; i >= 1; --i) {
    nn::AnyModule u;
    if (c.upsample == "pixelshuffle") u = nn::AnyModule(PixelShuffleUp(w[i], w[i - 1]));
    else if (c.upsample == "bilinear") u = nn::AnyModule(BilinearUp(w[i], w[i - 1]));
    else if (c.upsample == "transpose") u = nn::AnyModule(TransposeUp(w[i], w[i - 1]));
    else throw std::invalid_argument("fA.upsample must be pixelshuffle, bilinear or transpose, got " + c.upsample);
    register_module("up" + std::to_string(i), u.ptr());
    up.push_back(u);
    dec.push_back(register_module("dec" + std::to_string(i), DoubleConv(2 * w[i - 1], w[i - 1], c.batchNorm)));
  }
  outc = register_module("outc", conv2d(w[0], 3, 1));
  applyMemoryFormat();
}

void UNetImpl::applyMemoryFormat() {
  if (!cfg.channelsLast) return;
  torch::NoGradGuard ng;
  for (auto& p : parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  }
}

torch::Tensor UNetImpl::forward(torch::Tensor x) {
  if (cfg.channelsLast) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  std::vector<torch::Tensor> skips;
  auto h = inc(x);
  for (auto& d : down) {
    skips.push_back(h);
    h = d(F::max_pool2d(h, F::MaxPool2dFuncOptions(2)));
  }
  for (size_t i = 0; i < up.size(); ++i) {
    h = up[i].forward(h);
    h = dec[i](torch::cat({skips[skips.size() - 1 - i], h}, 1));
  }
  return torch::sigmoid(outc(h));
}

BasicBlock3dImpl::BasicBlock3dImpl(int64_t in, int64_t out, int64_t stride) {
  c1 = register_module("c1", nn::Conv3d(nn::Conv3dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
  b1 = register_module("b1", nn::BatchNorm3d(out));
  c2 = register_module("c2", nn::Conv3d(nn::Conv3dOptions(out, out, 3).padding(1).bias(false)));
  b2 = register_module("b2", nn::BatchNorm3d(out));
  shortcut = nn::Sequential();
  if (stride != 1 || in != out) {
    shortcut->push_back(nn::Conv3d(nn::Conv3dOptions(in, out, 1).stride(stride).bias(false)));
    shortcut->push_back(nn::BatchNorm3d(out));
  }
  register_module("shortcut", shortcut);
}

torch::Tensor BasicBlock3dImpl::forward(torch::Tensor x) {
  auto h = torch::relu(b1(c1(x)));
  h = b2(c2(h));
  auto s = shortcut->is_empty() ? x : shortcut->forward(x);
  return torch::relu(h + s);
}

R3DImpl::R3DImpl(const R3DConfig& c, int64_t numClasses) {
  checkWidths(c.widths, "fT.widths", 1);
  if (c.blocks.size() != c.widths.size()) throw std::invalid_argument("fT.blocks must have one entry per width");
  if (numClasses < 1) throw std::invalid_argument("fT needs at least one action class");
  stem = register_module(
      "stem", nn::Sequential(nn::Conv3d(nn::Conv3dOptions(3, c.widths[0], {3, 7, 7}).stride({1, 2, 2}).padding({1, 3, 3}).bias(false)),
                             nn::BatchNorm3d(c.widths[0]), nn::ReLU(nn::ReLUOptions(true))));
  stages = nn::Sequential();
  int64_t in = c.widths[0];
  for (size_t s = 0; s < c.widths.size(); ++s) {
    for (int64_t b = 0; b < c.blocks[s]; ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      stages->push_back(BasicBlock3d(in, c.widths[s], stride));
      in = c.widths[s];
    }
  }
  register_module("stages", stages);
  fc = register_module("fc", nn::Linear(in, numClasses));
}

torch::Tensor R3DImpl::forward(torch::Tensor x) {
  auto h = stages->forward(stem->forward(x));
  // Global max pooling: motion of a small person is a local event; averaging drowns it.
  h = std::get<0>(h.flatten(2).max(2));
  return fc(h);
}

Block2dImpl::Block2dImpl(int64_t in, int64_t width, int64_t stride, bool bottleneck) {
  body = nn::Sequential();
  if (bottleneck) {
    outChannels = width * 4;
    body->push_back(nn::Conv2d(nn::Conv2dOptions(in, width, 1).bias(false)));
    body->push_back(nn::BatchNorm2d(width));
    body->push_back(nn::ReLU(nn::ReLUOptions(true)));
    body->push_back(nn::Conv2d(nn::Conv2dOptions(width, width, 3).stride(stride).padding(1).bias(false)));
    body->push_back(nn::BatchNorm2d(width));
    body->push_back(nn::ReLU(nn::ReLUOptions(true)));
    body->push_back(nn::Conv2d(nn::Conv2dOptions(width, outChannels, 1).bias(false)));
    body->push_back(nn::BatchNorm2d(outChannels));
  } else {
    outChannels = width;
    body->push_back(nn::Conv2d(nn::Conv2dOptions(in, width, 3).stride(stride).padding(1).bias(false)));
    body->push_back(nn::BatchNorm2d(width));
    body->push_back(nn::ReLU(nn::ReLUOptions(true)));
    body->push_back(nn::Conv2d(nn::Conv2dOptions(width, width, 3).padding(1).bias(false)));
    body->push_back(nn::BatchNorm2d(width));
  }
  register_module("body", body);
  shortcut = nn::Sequential();
  if (stride != 1 || in != outChannels) {
    shortcut->push_back(nn::Conv2d(nn::Conv2dOptions(in, outChannels, 1).stride(stride).bias(false)));
    shortcut->push_back(nn::BatchNorm2d(outChannels));
  }
  register_module("shortcut", shortcut);
}

torch::Tensor Block2dImpl::forward(torch::Tensor x) {
  auto s = shortcut->is_empty() ? x : shortcut->forward(x);
  return torch::relu(body->forward(x) + s);
}

ResNet2dImpl::ResNet2dImpl(const BudgetConfig& c) {
  checkWidths(c.widths, "fB.widths", 1);
  if (c.blocks.size() != c.widths.size()) throw std::invalid_argument("fB.blocks must have one entry per width");
  stem = nn::Sequential();
  if (c.imagenetStem) {
    stem->push_back(nn::Conv2d(nn::Conv2dOptions(3, c.widths[0], 7).stride(2).padding(3).bias(false)));
    stem->push_back(nn::BatchNorm2d(c.widths[0]));
    stem->push_back(nn::ReLU(nn::ReLUOptions(true)));
    stem->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  } else {
    stem->push_back(nn::Conv2d(nn::Conv2dOptions(3, c.widths[0], 3).stride(2).padding(1).bias(false)));
    stem->push_back(nn::BatchNorm2d(c.widths[0]));
    stem->push_back(nn::ReLU(nn::ReLUOptions(true)));
  }
  register_module("stem", stem);
  stages = nn::Sequential();
  int64_t in = c.widths[0];
  for (size_t s = 0; s < c.widths.size(); ++s) {
    for (int64_t b = 0; b < c.blocks[s]; ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      auto block = Block2d(in, c.widths[s], stride, c.bottleneck);
      in = block->outChannels;
      stages->push_back(block);
    }
  }
  register_module("stages", stages);
  featureDim = in;
}

torch::Tensor ResNet2dImpl::forward(torch::Tensor x) {
  return stages->forward(stem->forward(x)).mean({2, 3});
}

ProjectionImpl::ProjectionImpl(int64_t in, int64_t out) {
  l1 = register_module("l1", nn::Linear(in, in));
  l2 = register_module("l2", nn::Linear(in, out));
}

torch::Tensor ProjectionImpl::forward(torch::Tensor x) {
  return F::normalize(l2(torch::relu(l1(x))), F::NormalizeFuncOptions().dim(1));
}

HeatmapNetImpl::HeatmapNetImpl(const std::vector<int64_t>& w, int64_t outChannels) {
  checkWidths(w, "student widths", 3);
  if (outChannels < 1) throw std::invalid_argument("the utility student needs at least one heatmap");
  body = nn::Sequential();
  auto convBnRelu = [this](int64_t in, int64_t out, int64_t stride, int64_t dilation) {
    body->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(dilation).dilation(dilation).bias(false)));
    body->push_back(nn::BatchNorm2d(out));
    body->push_back(nn::ReLU(nn::ReLUOptions(true)));
  };
  convBnRelu(3, w[0], 2, 1);
  convBnRelu(w[0], w[1], 2, 1);
  convBnRelu(w[1], w[2], 1, 2);
  convBnRelu(w[2], w[2], 1, 4);
  convBnRelu(w[2], w[2], 1, 8);
  register_module("body", body);
  head = register_module("head", conv2d(w[2], outChannels, 1));
}

torch::Tensor HeatmapNetImpl::forward(torch::Tensor x) { return head(body->forward(x)); }

int64_t countParameters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace spact
