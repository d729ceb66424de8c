// Conv2d: a 3x3 (padding 1, stride 1 or 2) or 1x1 convolution with bias over
// NHWC activations, forward and backward. Parameters "<name>.weight"
// [out,k,k,in] and "<name>.bias" [out].
//
// Backward ACCUMULATES dweight and dbias into the store's gradient views and
// WRITES dx, then reports both gradients final (ParameterStore::gradient_ready).
// The input passed to forward must stay unchanged until backward.
#pragma once

#include <string>

#include "core/tensor.h"
#include "model/layer_support.h"
#include "model/parameters.h"

namespace diffuse::model {

struct Conv2dSpec {
  int in_channels = 0;
  int out_channels = 0;
  int kernel = 3;           // 3 (padding 1) or 1 (padding 0)
  int stride = 1;           // 2 only with kernel 3: the downsampling conv
  float init_scale = 1.0f;  // fan-avg variance scale; 1e-10 for DDPM's near-zero layers
};

struct Conv2dParameters {
  Parameter* weight = nullptr;  // [out, kernel, kernel, in]
  Parameter* bias = nullptr;    // [out]
};

struct Conv2dActivations {
  Tensor x;  // [N,H,W,in] the input (the caller's tensor), needed for dweight
};

class Conv2d {
 public:
  Conv2d(ParameterStore& store, const std::string& name, const Conv2dSpec& spec);

  // x [N,H,W,in] -> y [N,Ho,Wo,out], a new tensor in x's dtype (f32, or bf16/f16 reading the store's compute
  // copy of the weight); plus `residual` [N,Ho,Wo,out] when given (a skip connection, added in the convolution's
  // epilogue: its gradient is dy itself, which the caller routes).
  Tensor forward(const Tensor& x, const Tensor& residual = Tensor());
  // dy [N,Ho,Wo,out] -> dx [N,H,W,in] (undefined with kSkip), a new tensor the layer does not keep.
  Tensor backward(const Tensor& dy, InputGradient input_gradient = InputGradient::kCompute);

  Shape output_shape(const Shape& input) const;  // [N,H,W,in] -> [N,Ho,Wo,out]
  double macs_per_image(int64_t height, int64_t width) const;
  // Bytes forward allocates and keeps for backward (the output), with activations of dtype `activations`.
  int64_t activation_bytes(int64_t batch, int64_t height, int64_t width, DType activations) const;

  const Conv2dSpec& spec() const { return spec_; }
  const Conv2dParameters& parameters() const { return parameters_; }

 private:
  int padding() const { return spec_.kernel == 3 ? 1 : 0; }

  ParameterStore* store_;  // told when backward has finished the gradients
  Conv2dSpec spec_;
  Conv2dParameters parameters_;
  Conv2dActivations activations_;
};

}  // namespace diffuse::model
