// Upsample forward and backward: ops::upsample_nearest2x_* around a Conv2d.
#include "model/upsample.h"

#include "core/ops.h"

namespace diffuse::model {

Upsample::Upsample(ParameterStore& store, const std::string& name, int channels)
    : channels_(channels), conv_(store, name, {channels, channels, 3, 1, 1.0f}) {}

Tensor Upsample::forward(const Tensor& x) {
  DIFFUSE_CHECK(x.rank() == 4, "upsample input must be [N,H,W,C], got ", x.describe());
  const Tensor up = new_activation({x.dim(0), 2 * x.dim(1), 2 * x.dim(2), x.dim(3)}, x);
  ops::upsample_nearest2x_forward(x, up);
  return conv_.forward(up);
}

Tensor Upsample::backward(const Tensor& dy) {
  const Tensor dup = conv_.backward(dy);
  const Shape& up = dup.shape();
  const Tensor dx = new_activation({up[0], up[1] / 2, up[2] / 2, up[3]}, dup);
  ops::upsample_nearest2x_backward(dup, dx);
  return dx;
}

int64_t Upsample::activation_bytes(int64_t batch, int64_t height, int64_t width, DType activations) const {
  return tensor_bytes({batch, 2 * height, 2 * width, channels_}, activations) +
         conv_.activation_bytes(batch, 2 * height, 2 * width, activations);
}

}  // namespace diffuse::model
