// The FID Inception-v3: pytorch-fid's variant of torchvision's Inception-v3
// (FIDInceptionA/C/E), inference only, up to the 2048-d final average pool.
//
//   x: grayscale replicated to RGB, bilinear resize to 299x299 (half-pixel, no antialias)
//   stem: Conv2d_1a_3x3 (s2), 2a_3x3, 2b_3x3 (p1), max pool 3 s2, 3b_1x1, 4a_3x3, max pool 3 s2
//   Mixed_5b/5c/5d: InceptionA (pool features 32, 64, 64)      35x35
//   Mixed_6a: InceptionB (reduction)                           17x17
//   Mixed_6b/6c/6d/6e: InceptionC (7x7 channels 128, 160, 160, 192)
//   Mixed_7a: InceptionD (reduction)                           8x8
//   Mixed_7b, Mixed_7c: InceptionE                             8x8x2048
//   global average pool -> [N,2048]
// Where torchvision differs, this follows pytorch-fid (and the TensorFlow
// graph behind the published FIDs): the branch pools of InceptionA, C and the
// first E average with count_include_pad=False, the last E block max-pools.
// Every conv has no bias and is followed by BatchNorm(eps 1e-3) and ReLU; the
// BatchNorm is folded into the conv's weight and bias when the weights load.
// The input is taken in [-1, 1]: pytorch-fid resizes [0, 1] images and then
// maps them to [-1, 1], and bilinear weights sum to one, so the order does not
// matter.
//
// Weight names are torchvision's state-dict keys ("Mixed_5b.branch1x1.conv.weight",
// "...bn.weight|bias|running_mean|running_var"), conv weights stored [out,kh,kw,in]
// (tools/convert_inception_weights.py converts the PyTorch checkpoint).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/ops.h"
#include "eval/feature_network.h"

namespace diffuse::eval {

inline constexpr int kInceptionResolution = 299;
inline constexpr int kInceptionFeatures = 2048;
inline constexpr float kInceptionBatchNormEps = 1e-3f;

// One conv with its BatchNorm folded in, then ReLU.
struct FoldedConv {
  std::string name;  // "Mixed_5b.branch1x1"
  Tensor weight;     // [out,kh,kw,in] conv weight * gamma / sqrt(var + eps)
  Tensor bias;       // [out] beta - mean * gamma / sqrt(var + eps)
  ops::Conv2dWindow window;
};

// The file attributes of a FID Inception network (what the converter writes).
FeatureNetworkInfo inception_info();

// Every conv ("Mixed_5b.branch1x1") with its weight shape [out,kh,kw,in], in name order. Each reads
// <name>.conv.weight and <name>.bn.{weight,bias,running_mean,running_var} [out].
std::vector<std::pair<std::string, Shape>> inception_conv_shapes();

class InceptionNetwork final : public FeatureNetwork {
 public:
  explicit InceptionNetwork(const FeatureFile& file);

  const FeatureNetworkInfo& info() const override { return info_; }
  // logits must be undefined: this network has no class head.
  void compute(const Tensor& images, const Tensor& features, const Tensor& logits) override;

 private:
  const FoldedConv& conv(const std::string& name) const;
  Tensor apply(const std::string& name, const Tensor& x) const;
  Tensor inception_a(const std::string& block, const Tensor& x) const;
  Tensor inception_b(const std::string& block, const Tensor& x) const;
  Tensor inception_c(const std::string& block, const Tensor& x) const;
  Tensor inception_d(const std::string& block, const Tensor& x) const;
  Tensor inception_e(const std::string& block, const Tensor& x, bool max_pool_branch) const;

  FeatureNetworkInfo info_;
  std::vector<FoldedConv> convs_;  // sorted by name
};

}  // namespace diffuse::eval
