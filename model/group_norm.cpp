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

Tensor GroupNorm::forward(const Tensor& x) {
  GroupNormActivations& a = activations_;
  const Tensor y = new_f32(x.shape(), x.device());
  // The statistics are a few floats per sample: their buffers stay.
  ensure_buffer(a.mean, {x.dim(0), spec_.groups}, x.device());
  ensure_buffer(a.rstd, {x.dim(0), spec_.groups}, x.device());
  ops::group_norm_forward(x, parameters_.gamma->value, parameters_.beta->value, spec_.groups, spec_.eps, y, a.mean,
                          a.rstd);
  keep_for_backward(a.x, x);
  return y;
}

Tensor GroupNorm::backward(const Tensor& dy) {
  GroupNormActivations& a = activations_;
  require_kept(a.x, "group norm");
  const Tensor dx = new_f32(a.x.shape(), a.x.device());
  ops::group_norm_backward(a.x, parameters_.gamma->value, a.mean, a.rstd, spec_.groups, dy, dx, parameters_.gamma->grad,
                           parameters_.beta->grad);
  store_->gradient_ready(*parameters_.gamma);
  store_->gradient_ready(*parameters_.beta);
  return dx;
}

}  // namespace diffuse::model
