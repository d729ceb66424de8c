// Linear: y = x weight^T + bias over rows, forward and backward. Parameters
// "<name>.weight" [out,in] and "<name>.bias" [out].
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

struct LinearSpec {
  int in_features = 0;
  int out_features = 0;
  float init_scale = 1.0f;  // fan-avg variance scale
};

struct LinearParameters {
  Parameter* weight = nullptr;  // [out, in]
  Parameter* bias = nullptr;    // [out]
};

struct LinearActivations {
  Tensor x;  // [M,in] the input (the caller's tensor), needed for dweight
};

class Linear {
 public:
  Linear(ParameterStore& store, const std::string& name, const LinearSpec& spec);

  // x [M,in] -> y [M,out], a new tensor in x's dtype (as Conv2d::forward).
  Tensor forward(const Tensor& x);
  // dy [M,out] -> dx [M,in] (undefined with kSkip), a new tensor the layer does not keep.
  Tensor backward(const Tensor& dy, InputGradient input_gradient = InputGradient::kCompute);

  double macs_per_row() const { return static_cast<double>(spec_.in_features) * spec_.out_features; }
  int64_t activation_bytes(int64_t rows) const { return f32_bytes({rows, spec_.out_features}); }  // f32 input

  const LinearSpec& spec() const { return spec_; }
  const LinearParameters& parameters() const { return parameters_; }

 private:
  ParameterStore* store_;  // told when backward has finished the gradients
  LinearSpec spec_;
  LinearParameters parameters_;
  LinearActivations activations_;
};

}  // namespace diffuse::model
