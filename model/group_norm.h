// GroupNorm over NHWC activations, forward and backward, optionally followed by
// SiLU and dropout in the same op (spec.silu; ops::group_norm_silu_*): what a
// ResBlock and the U-Net's output head put in front of a convolution. The
// fused form keeps only its input and the statistics for backward, not the
// normalized map. Parameters "<name>.gamma" [C] and "<name>.beta" [C]. eps
// defaults to 1e-6, DDPM's (TensorFlow's group_norm default; PyTorch's
// nn.GroupNorm default is 1e-5).
//
// Backward ACCUMULATES dgamma and dbeta into the store's gradient views and
// WRITES dx. The input passed to forward must stay unchanged until backward.
#pragma once

#include <string>

#include "core/ops.h"
#include "core/tensor.h"
#include "model/layer_support.h"
#include "model/parameters.h"

namespace diffuse::model {

constexpr float kGroupNormEps = 1e-6f;

struct GroupNormSpec {
  int channels = 0;
  int groups = 32;
  float eps = kGroupNormEps;
  bool silu = false;  // y = SiLU(GroupNorm(x)), then the dropout forward is given
};

struct GroupNormParameters {
  Parameter* gamma = nullptr;  // [C]
  Parameter* beta = nullptr;   // [C]
};

struct GroupNormActivations {
  Tensor x;              // [N,H,W,C] the input (the caller's tensor)
  Tensor mean;           // [N,groups]
  Tensor rstd;           // [N,groups] 1 / sqrt(var + eps)
  ops::Dropout dropout;  // the dropout forward applied, regenerated in backward
};

class GroupNorm {
 public:
  GroupNorm(ParameterStore& store, const std::string& name, const GroupNormSpec& spec);

  // x [N,H,W,C] -> y [N,H,W,C], a new tensor in x's dtype (statistics in f32). `dropout` (only with spec.silu)
  // follows the SiLU.
  Tensor forward(const Tensor& x, const ops::Dropout& dropout = {});
  // dy [N,H,W,C] -> dx [N,H,W,C], a new tensor the layer does not keep.
  Tensor backward(const Tensor& dy);

  int64_t activation_bytes(int64_t batch, int64_t height, int64_t width, DType activations) const {
    return tensor_bytes({batch, height, width, spec_.channels}, activations) + 2 * f32_bytes({batch, spec_.groups});
  }

  const GroupNormSpec& spec() const { return spec_; }
  const GroupNormParameters& parameters() const { return parameters_; }

 private:
  ParameterStore* store_;  // told when backward has finished the gradients
  GroupNormSpec spec_;
  GroupNormParameters parameters_;
  GroupNormActivations activations_;
};

}  // namespace diffuse::model
