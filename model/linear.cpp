// Linear forward and backward on top of ops::linear_*.
#include "model/linear.h"

#include "core/ops.h"

namespace diffuse::model {

Linear::Linear(ParameterStore& store, const std::string& name, const LinearSpec& spec) : store_(&store), spec_(spec) {
  DIFFUSE_CHECK(spec.in_features > 0 && spec.out_features > 0, "linear '", name, "' needs positive feature counts");
  // The U-Net's linear layers read the f32 time embedding, so their weights keep no low-precision copy.
  parameters_.weight = store.declare(name + ".weight", {spec.out_features, spec.in_features},
                                     {InitRule::kFanAvgUniform, spec.init_scale});
  parameters_.bias = store.declare(name + ".bias", {spec.out_features}, {InitRule::kZeros});
}

Tensor Linear::forward(const Tensor& x) {
  DIFFUSE_CHECK(x.rank() == 2, "linear input must be [M,in], got ", x.describe());
  const Tensor y = new_activation({x.dim(0), spec_.out_features}, x);
  ops::linear_forward(x, product_weight(*parameters_.weight, x.dtype()), parameters_.bias->value, y);
  keep_for_backward(activations_.x, x);
  return y;
}

Tensor Linear::backward(const Tensor& dy, InputGradient input_gradient) {
  const Tensor x = take_kept(activations_.x, "linear");
  const Tensor dx = input_gradient == InputGradient::kCompute ? new_activation(x.shape(), x) : Tensor();
  ops::linear_backward(x, product_weight(*parameters_.weight, x.dtype()), dy, dx, parameters_.weight->grad,
                       parameters_.bias->grad);
  store_->gradient_ready(*parameters_.weight);
  store_->gradient_ready(*parameters_.bias);
  return dx;
}

}  // namespace diffuse::model
