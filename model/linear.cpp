// Linear forward and backward on top of ops::linear_*.
#include "model/linear.h"

#include "core/ops.h"

namespace diffuse::model {

Linear::Linear(ParameterStore& store, const std::string& name, const LinearSpec& spec) : store_(&store), spec_(spec) {
  DIFFUSE_CHECK(spec.in_features > 0 && spec.out_features > 0, "linear '", name, "' needs positive feature counts");
  parameters_.weight = store.declare(name + ".weight", {spec.out_features, spec.in_features},
                                     {InitRule::kFanAvgUniform, spec.init_scale});
  parameters_.bias = store.declare(name + ".bias", {spec.out_features}, {InitRule::kZeros});
}

const Tensor& Linear::forward(const Tensor& x) {
  DIFFUSE_CHECK(x.rank() == 2, "linear input must be [M,in], got ", x.describe());
  activations_.x = x;
  ensure_buffer(activations_.y, {x.dim(0), spec_.out_features}, x.device());
  ops::linear_forward(x, parameters_.weight->value, parameters_.bias->value, activations_.y);
  return activations_.y;
}

const Tensor& Linear::backward(const Tensor& dy, InputGradient input_gradient) {
  const Tensor& x = activations_.x;
  DIFFUSE_CHECK(x.defined(), "linear backward before forward");
  if (input_gradient == InputGradient::kCompute) {
    ensure_buffer(activations_.dx, x.shape(), x.device());
  } else {
    activations_.dx = Tensor();
  }
  ops::linear_backward(x, parameters_.weight->value, dy, activations_.dx, parameters_.weight->grad,
                       parameters_.bias->grad);
  store_->gradient_ready(*parameters_.weight);
  store_->gradient_ready(*parameters_.bias);
  return activations_.dx;
}

}  // namespace diffuse::model
