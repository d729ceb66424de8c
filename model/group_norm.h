// GroupNorm over NHWC activations, forward and backward. Parameters
// "<name>.gamma" [C] and "<name>.beta" [C]. eps defaults to 1e-6, DDPM's
// (TensorFlow's group_norm default; PyTorch's nn.GroupNorm default is 1e-5).
//
// Backward ACCUMULATES dgamma and dbeta into the store's gradient views and
// WRITES dx. The input passed to forward must stay unchanged until backward.
#pragma once

#include <string>

#include "core/tensor.h"
#include "model/layer_support.h"
#include "model/parameters.h"

namespace diffuse::model {

struct GroupNormSpec {
  int channels = 0;
  int groups = 32;
  float eps = 1e-6f;
};

struct GroupNormParameters {
  Parameter* gamma = nullptr;  // [C]
  Parameter* beta = nullptr;   // [C]
};

struct GroupNormActivations {
  Tensor x;     // [N,H,W,C] the input (the caller's tensor)
  Tensor mean;  // [N,groups]
  Tensor rstd;  // [N,groups] 1 / sqrt(var + eps)
};

class GroupNorm {
 public:
  GroupNorm(ParameterStore& store, const std::string& name, const GroupNormSpec& spec);

  // x [N,H,W,C] -> y [N,H,W,C], a new tensor.
  Tensor forward(const Tensor& x);
  // dy [N,H,W,C] -> dx [N,H,W,C], a new tensor the layer does not keep.
  Tensor backward(const Tensor& dy);

  int64_t activation_bytes(int64_t batch, int64_t height, int64_t width) const {
    return f32_bytes({batch, height, width, spec_.channels}) + 2 * f32_bytes({batch, spec_.groups});
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
