// ResBlock forward and backward. Element-wise steps (SiLU, dropout, the
// time-embedding add, the residual) run in place on buffers whose old values
// nothing needs any more; see the comments at each.
#include "model/res_block.h"

namespace diffuse::model {

ResBlock::ResBlock(ParameterStore& store, const std::string& name, const ResBlockSpec& spec)
    : spec_(spec),
      norm1_(store, name + ".norm1", {spec.in_channels, spec.groups}),
      conv1_(store, name + ".conv1", {spec.in_channels, spec.out_channels, 3, 1, 1.0f}),
      temb_proj_(store, name + ".temb_proj", {spec.temb_channels, spec.out_channels, 1.0f}),
      norm2_(store, name + ".norm2", {spec.out_channels, spec.groups}),
      conv2_(store, name + ".conv2", {spec.out_channels, spec.out_channels, 3, 1, 1e-10f}) {
  DIFFUSE_CHECK(spec.dropout >= 0.0f && spec.dropout < 1.0f, "res block '", name, "': dropout ", spec.dropout,
                " is outside [0, 1)");
  if (spec.in_channels != spec.out_channels)
    skip_ = std::make_unique<Conv2d>(store, name + ".skip", Conv2dSpec{spec.in_channels, spec.out_channels, 1, 1});
}

const Tensor& ResBlock::forward(const Tensor& x, const Tensor& temb, const ForwardContext& context) {
  ResBlockActivations& a = activations_;
  a.x = x;
  a.normalized1 = norm1_.forward(x);
  ops::silu_forward(a.normalized1, ensure_buffer(a.activated1, x.shape(), x.device()));
  const Tensor& h = conv1_.forward(a.activated1);
  // In place: conv1's backward needs its input, not its output.
  ops::add_channel_vector_forward(h, temb_proj_.forward(temb), h);

  a.normalized2 = norm2_.forward(h);
  ops::silu_forward(a.normalized2, ensure_buffer(a.activated2, h.shape(), h.device()));
  a.dropout_active = context.training && spec_.dropout > 0.0f;
  const Tensor* conv2_input = &a.activated2;
  if (a.dropout_active) {
    a.dropout_key = ops::DropoutKey{context.seed, context.step, context.first_sample, spec_.dropout_layer};
    ops::dropout_forward(a.activated2, spec_.dropout, a.dropout_key, ensure_buffer(a.dropped, h.shape(), h.device()));
    conv2_input = &a.dropped;
  } else {
    a.dropped = Tensor();
  }
  const Tensor& y = conv2_.forward(*conv2_input);
  // The residual, in place in conv2's output, which its backward does not need.
  ops::add(y, skip_ ? skip_->forward(x) : x, y);
  return y;
}

const Tensor& ResBlock::backward(const Tensor& dy) {
  ResBlockActivations& a = activations_;
  DIFFUSE_CHECK(a.x.defined(), "res block backward before forward");
  // The chain below overwrites each layer's input-gradient buffer in place:
  // dropout and SiLU backward are element-wise.
  const Tensor& dactivated2 = conv2_.backward(dy);
  if (a.dropout_active) ops::dropout_backward(dactivated2, spec_.dropout, a.dropout_key, dactivated2);
  ops::silu_backward(a.normalized2, dactivated2, dactivated2);
  const Tensor& dh = norm2_.backward(dactivated2);

  // h = conv1(...) + temb_proj(temb): dh flows to both unchanged.
  ensure_buffer(a.dtemb_channels, {dh.dim(0), spec_.out_channels}, dh.device());
  ops::add_channel_vector_backward(dh, dh, a.dtemb_channels);
  dtemb_ = temb_proj_.backward(a.dtemb_channels);

  const Tensor& dactivated1 = conv1_.backward(dh);
  ops::silu_backward(a.normalized1, dactivated1, dactivated1);
  const Tensor& dx = norm1_.backward(dactivated1);
  ops::accumulate(dx, skip_ ? skip_->backward(dy) : dy);
  return dx;
}

double ResBlock::macs_per_image(int64_t height, int64_t width) const {
  return conv1_.macs_per_image(height, width) + temb_proj_.macs_per_row() + conv2_.macs_per_image(height, width) +
         (skip_ ? skip_->macs_per_image(height, width) : 0.0);
}

int64_t ResBlock::activation_bytes(int64_t batch, int64_t height, int64_t width) const {
  const int64_t in_map = f32_bytes({batch, height, width, spec_.in_channels});
  const int64_t out_map = f32_bytes({batch, height, width, spec_.out_channels});
  return norm1_.activation_bytes(batch, height, width) + in_map + conv1_.activation_bytes(batch, height, width) +
         temb_proj_.activation_bytes(batch) + norm2_.activation_bytes(batch, height, width) + out_map +
         (spec_.dropout > 0.0f ? out_map : 0) + conv2_.activation_bytes(batch, height, width) +
         (skip_ ? skip_->activation_bytes(batch, height, width) : 0);
}

}  // namespace diffuse::model
