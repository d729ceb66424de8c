// GroupNorm forward and backward on top of ops::group_norm_* and, with SiLU,
// ops::group_norm_silu_*.
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

Tensor GroupNorm::forward(const Tensor& x, const ops::Dropout& dropout) {
  DIFFUSE_CHECK(spec_.silu || dropout.p == 0.0f, "group norm: dropout needs the fused SiLU (spec.silu)");
  GroupNormActivations& a = activations_;
  const Tensor y = new_activation(x.shape(), x);
  // The statistics are a few floats per sample: their buffers stay.
  ensure_buffer(a.mean, {x.dim(0), spec_.groups}, x.device());
  ensure_buffer(a.rstd, {x.dim(0), spec_.groups}, x.device());
  const Tensor& gamma = parameters_.gamma->value;
  const Tensor& beta = parameters_.beta->value;
  if (spec_.silu)
    ops::group_norm_silu_forward(x, gamma, beta, spec_.groups, spec_.eps, dropout, y, a.mean, a.rstd);
  else
    ops::group_norm_forward(x, gamma, beta, spec_.groups, spec_.eps, y, a.mean, a.rstd);
  keep_for_backward(a.x, x);
  a.dropout = dropout;
  return y;
}

Tensor GroupNorm::backward(const Tensor& dy) {
  GroupNormActivations& a = activations_;
  const Tensor x = take_kept(a.x, "group norm");
  const Tensor dx = new_activation(x.shape(), x);
  const GroupNormParameters& p = parameters_;
  if (spec_.silu)
    ops::group_norm_silu_backward(x, p.gamma->value, p.beta->value, a.mean, a.rstd, spec_.groups, a.dropout, dy, dx,
                                  p.gamma->grad, p.beta->grad);
  else
    ops::group_norm_backward(x, p.gamma->value, a.mean, a.rstd, spec_.groups, dy, dx, p.gamma->grad, p.beta->grad);
  store_->gradient_ready(*parameters_.gamma);
  store_->gradient_ready(*parameters_.beta);
  return dx;
}

}  // namespace diffuse::model
