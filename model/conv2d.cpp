// Conv2d forward and backward on top of ops::conv2d_*.
#include "model/conv2d.h"

#include "core/ops.h"

namespace diffuse::model {

Conv2d::Conv2d(ParameterStore& store, const std::string& name, const Conv2dSpec& spec) : store_(&store), spec_(spec) {
  DIFFUSE_CHECK(spec.in_channels > 0 && spec.out_channels > 0, "conv '", name, "' needs positive channel counts");
  DIFFUSE_CHECK((spec.kernel == 3 && (spec.stride == 1 || spec.stride == 2)) || (spec.kernel == 1 && spec.stride == 1),
                "conv '", name, "': unsupported kernel ", spec.kernel, " stride ", spec.stride);
  parameters_.weight = store.declare(name + ".weight", {spec.out_channels, spec.kernel, spec.kernel, spec.in_channels},
                                     {InitRule::kFanAvgUniform, spec.init_scale}, ComputeCopy::kRounded);
  parameters_.bias = store.declare(name + ".bias", {spec.out_channels}, {InitRule::kZeros});
}

Shape Conv2d::output_shape(const Shape& input) const {
  DIFFUSE_CHECK(input.size() == 4, "conv input must be [N,H,W,C], got ", shape_string(input));
  const int64_t pad = padding();
  return {input[0], (input[1] + 2 * pad - spec_.kernel) / spec_.stride + 1,
          (input[2] + 2 * pad - spec_.kernel) / spec_.stride + 1, spec_.out_channels};
}

Tensor Conv2d::forward(const Tensor& x, const Tensor& residual) {
  const Tensor y = new_activation(output_shape(x.shape()), x);
  ops::conv2d_forward(x, product_weight(*parameters_.weight, x.dtype()), parameters_.bias->value, y, spec_.stride,
                      padding(), residual);
  keep_for_backward(activations_.x, x);
  return y;
}

Tensor Conv2d::backward(const Tensor& dy, InputGradient input_gradient) {
  const Tensor x = take_kept(activations_.x, "conv");
  const Tensor dx = input_gradient == InputGradient::kCompute ? new_activation(x.shape(), x) : Tensor();
  ops::conv2d_backward(x, product_weight(*parameters_.weight, x.dtype()), dy, dx, parameters_.weight->grad,
                       parameters_.bias->grad, spec_.stride, padding());
  store_->gradient_ready(*parameters_.weight);
  store_->gradient_ready(*parameters_.bias);
  return dx;
}

double Conv2d::macs_per_image(int64_t height, int64_t width) const {
  const Shape out = output_shape({1, height, width, spec_.in_channels});
  return static_cast<double>(out[1] * out[2]) * spec_.out_channels * spec_.kernel * spec_.kernel * spec_.in_channels;
}

int64_t Conv2d::activation_bytes(int64_t batch, int64_t height, int64_t width, DType activations) const {
  return tensor_bytes(output_shape({batch, height, width, spec_.in_channels}), activations);
}

}  // namespace diffuse::model
