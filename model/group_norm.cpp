// GroupNorm forward and backward on top of ops::group_norm_*.
#include "model/group_norm.h"

#include "core/ops.h"

namespace diffuse::model {

GroupNorm::GroupNorm(ParameterStore& store, const std::string& name, const GroupNormSpec& spec)
    : store_(&store), spec_(spec) {
  DIFFUSE_CHECK(spec.groups > 0 && spec.channels > 0 && spec.channels % spec.groups == 0, "group norm '", name,
                "': ", spec.channels, " channels do not split into ", spec.groups, " groups");
  parameters_.gamma = store.declare(name + ".gamma", {spec.channels}, {InitRule::kOnes});
  parameters_.beta = store.declare(name + ".beta", {spec.channels}, {InitRule::kZeros});
}

const Tensor& GroupNorm::forward(const Tensor& x) {
  GroupNormActivations& a = activations_;
  a.x = x;
  ensure_buffer(a.y, x.shape(), x.device());
  ensure_buffer(a.mean, {x.dim(0), spec_.groups}, x.device());
  ensure_buffer(a.rstd, {x.dim(0), spec_.groups}, x.device());
  ops::group_norm_forward(x, parameters_.gamma->value, parameters_.beta->value, spec_.groups, spec_.eps, a.y, a.mean,
                          a.rstd);
  return a.y;
}

const Tensor& GroupNorm::backward(const Tensor& dy) {
  GroupNormActivations& a = activations_;
  DIFFUSE_CHECK(a.x.defined(), "group norm backward before forward");
  ensure_buffer(a.dx, a.x.shape(), a.x.device());
  ops::group_norm_backward(a.x, parameters_.gamma->value, a.mean, a.rstd, spec_.groups, dy, a.dx,
                           parameters_.gamma->grad, parameters_.beta->grad);
  store_->gradient_ready(*parameters_.gamma);
  store_->gradient_ready(*parameters_.beta);
  return a.dx;
}

}  // namespace diffuse::model
