// Upsample: nearest-neighbour 2x then a 3x3 conv (DDPM's upsampling between
// levels of the U-Net's up path). Parameters <name>.weight [C,3,3,C] and
// <name>.bias [C].
//
// Backward ACCUMULATES parameter gradients into the store's gradient views and
// WRITES dx. The input passed to forward must stay unchanged until backward.
#pragma once

#include <string>

#include "core/tensor.h"
#include "model/conv2d.h"
#include "model/parameters.h"

namespace diffuse::model {

class Upsample {
 public:
  Upsample(ParameterStore& store, const std::string& name, int channels);

  // x [N,H,W,C] -> y [N,2H,2W,C], a new tensor in x's dtype.
  Tensor forward(const Tensor& x);
  // dy [N,2H,2W,C] -> dx [N,H,W,C], a new tensor the layer does not keep.
  Tensor backward(const Tensor& dy);

  // For an input of height x width.
  double macs_per_image(int64_t height, int64_t width) const { return conv_.macs_per_image(2 * height, 2 * width); }
  int64_t activation_bytes(int64_t batch, int64_t height, int64_t width, DType activations) const;

 private:
  int channels_;
  Conv2d conv_;  // <name>, 3x3, C -> C; keeps the upsampled map, its input
};

}  // namespace diffuse::model
