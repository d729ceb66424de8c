// ResBlock forward and backward. The time-embedding add runs in place on
// conv1's output, which no backward reads; the residual is added in conv2's
// epilogue; SiLU and dropout run inside the group norm ops, except under
// scale_shift_norm, where the modulation sits between the norm and the SiLU.
#include "model/res_block.h"

namespace diffuse::model {

namespace {

constexpr ops::Pool2dWindow kHalve{2, 2, 0};  // 2x2 average pool, stride 2

}  // namespace

ResBlock::ResBlock(ParameterStore& store, const std::string& name, const ResBlockSpec& spec)
    : spec_(spec),
      norm1_(store, name + ".norm1", {spec.in_channels, spec.groups, kGroupNormEps, true}),
      conv1_(store, name + ".conv1", {spec.in_channels, spec.out_channels, 3, 1, 1.0f}),
      temb_proj_(store, name + ".temb_proj",
                 {spec.temb_channels, spec.scale_shift_norm ? 2 * spec.out_channels : spec.out_channels, 1.0f}),
      norm2_(store, name + ".norm2", {spec.out_channels, spec.groups, kGroupNormEps, !spec.scale_shift_norm}),
      conv2_(store, name + ".conv2", {spec.out_channels, spec.out_channels, 3, 1, 1e-10f}) {
  DIFFUSE_CHECK(spec.dropout >= 0.0f && spec.dropout < 1.0f, "res block '", name, "': dropout ", spec.dropout,
                " is outside [0, 1)");
  if (spec.in_channels != spec.out_channels)
    skip_ = std::make_unique<Conv2d>(store, name + ".skip", Conv2dSpec{spec.in_channels, spec.out_channels, 1, 1});
}

int64_t ResBlock::output_size(int64_t size) const {
  switch (spec_.resample) {
    case Resample::kDown:
      return size / 2;
    case Resample::kUp:
      return size * 2;
    case Resample::kNone:
      break;
  }
  return size;
}

Tensor ResBlock::resample_forward(const Tensor& x) const {
  if (spec_.resample == Resample::kNone) return x;
  DIFFUSE_CHECK(x.rank() == 4, "res block input must be [N,H,W,C], got ", x.describe());
  const Tensor y = new_activation({x.dim(0), output_size(x.dim(1)), output_size(x.dim(2)), x.dim(3)}, x);
  if (spec_.resample == Resample::kDown) {
    ops::avg_pool2d_forward(x, y, kHalve);
  } else {
    ops::upsample_nearest2x_forward(x, y);
  }
  return y;
}

Tensor ResBlock::resample_backward(const Tensor& dy) const {
  if (spec_.resample == Resample::kNone) return dy;
  const bool down = spec_.resample == Resample::kDown;
  const Tensor dx = new_activation(
      {dy.dim(0), down ? 2 * dy.dim(1) : dy.dim(1) / 2, down ? 2 * dy.dim(2) : dy.dim(2) / 2, dy.dim(3)}, dy);
  if (down) {
    ops::avg_pool2d_backward(dy, dx, kHalve);
  } else {
    ops::upsample_nearest2x_backward(dy, dx);
  }
  return dx;
}

// dropout(SiLU(GroupNorm2(h) * (1 + scale) + shift)), scale and shift from temb_proj(temb).
Tensor ResBlock::modulated_forward(const Tensor& h, const Tensor& temb, const ops::Dropout& dropout) {
  ResBlockActivations& a = activations_;
  const Tensor normalized = norm2_.forward(h);
  const Tensor modulation = temb_proj_.forward(temb);
  const Tensor modulated = new_activation(normalized.shape(), normalized);
  ops::scale_shift_channels_forward(normalized, modulation, modulated);
  const Tensor activated = new_activation(normalized.shape(), normalized);
  ops::silu_forward(modulated, activated);
  if (dropout.p > 0.0f) ops::dropout_forward(activated, dropout.p, dropout.key, activated);
  keep_for_backward(a.normalized, normalized);
  keep_for_backward(a.modulation, modulation);
  keep_for_backward(a.modulated, modulated);
  a.dropout = dropout;
  return activated;
}

// g: d of modulated_forward's output -> d h; sets dtemb_.
Tensor ResBlock::modulated_backward(const Tensor& g) {
  ResBlockActivations& a = activations_;
  const Tensor normalized = take_kept(a.normalized, "res block");
  const Tensor modulation = std::move(a.modulation), modulated = std::move(a.modulated);
  if (a.dropout.p > 0.0f) ops::dropout_backward(g, a.dropout.p, a.dropout.key, g);
  ops::silu_backward(modulated, g, g);
  ensure_buffer(dtemb_channels_, modulation.shape(), g.device());
  ops::scale_shift_channels_backward(normalized, modulation, g, g, dtemb_channels_);
  dtemb_ = temb_proj_.backward(dtemb_channels_);
  return norm2_.backward(g);
}

Tensor ResBlock::forward(const Tensor& x, const Tensor& temb, const ForwardContext& context) {
  const Tensor resampled_x = resample_forward(x);
  const Tensor h = conv1_.forward(resample_forward(norm1_.forward(x)));  // norm1 applies SiLU

  ops::Dropout dropout;
  if (context.training && spec_.dropout > 0.0f)
    dropout = ops::Dropout{spec_.dropout,
                           ops::DropoutKey{context.seed, context.step, context.first_sample, spec_.dropout_layer}};
  Tensor normalized;
  if (spec_.scale_shift_norm) {
    normalized = modulated_forward(h, temb, dropout);
  } else {
    // In place: conv1's backward needs its input, not its output.
    ops::add_channel_vector_forward(h, temb_proj_.forward(temb), h);
    normalized = norm2_.forward(h, dropout);  // norm2 applies SiLU, then dropout
  }
  return conv2_.forward(normalized, skip_ ? skip_->forward(resampled_x) : resampled_x);
}

Tensor ResBlock::backward(const Tensor& dy) {
  // One running gradient, replaced layer by layer so that each is freed once the next is computed.
  Tensor g = conv2_.backward(dy);  // d (dropout(SiLU(...)))
  if (spec_.scale_shift_norm) {
    g = modulated_backward(g);  // d h
  } else {
    g = norm2_.backward(g);  // d h
    // h = conv1(...) + temb_proj(temb): dh flows to both unchanged.
    ensure_buffer(dtemb_channels_, {g.dim(0), spec_.out_channels}, g.device());
    ops::add_channel_vector_backward(g, g, dtemb_channels_);
    dtemb_ = temb_proj_.backward(dtemb_channels_);
  }

  g = resample_backward(conv1_.backward(g));  // d SiLU(GroupNorm1(x))
  g = norm1_.backward(g);                     // d x
  ops::accumulate(g, resample_backward(skip_ ? skip_->backward(dy) : dy));
  return g;
}

double ResBlock::macs_per_image(int64_t height, int64_t width) const {
  const int64_t out_height = output_size(height), out_width = output_size(width);
  return conv1_.macs_per_image(out_height, out_width) + temb_proj_.macs_per_row() +
         conv2_.macs_per_image(out_height, out_width) + (skip_ ? skip_->macs_per_image(out_height, out_width) : 0.0);
}

// Each layer counts its output (its input is the previous layer's): SiLU(GroupNorm1(x)) (conv1's input, resampled
// when the block resamples), h (conv1's output plus the embedding, GroupNorm2's input), conv2's input (SiLU of
// GroupNorm2(h), after dropout) and the block's output. The normalized maps are recomputed in backward, the
// embedding projection is freed once added, and the 1x1 skip's output lives only while conv2 runs (it is added in
// conv2's epilogue). Under scale_shift_norm the normalized and the modulated maps are kept as well.
int64_t ResBlock::activation_bytes(int64_t batch, int64_t height, int64_t width, DType activations) const {
  const int64_t out_height = output_size(height), out_width = output_size(width);
  const int64_t norm1 = norm1_.activation_bytes(batch, height, width, activations);
  const int64_t conv1_input = spec_.resample == Resample::kNone
                                  ? norm1
                                  : norm1 - tensor_bytes({batch, height, width, spec_.in_channels}, activations) +
                                        tensor_bytes({batch, out_height, out_width, spec_.in_channels}, activations);
  int64_t bytes = conv1_input + conv1_.activation_bytes(batch, out_height, out_width, activations) +
                  norm2_.activation_bytes(batch, out_height, out_width, activations) +
                  conv2_.activation_bytes(batch, out_height, out_width, activations);
  if (spec_.scale_shift_norm)
    bytes += 2 * tensor_bytes({batch, out_height, out_width, spec_.out_channels}, activations) +
             f32_bytes({batch, 2 * spec_.out_channels});
  if (skip_ && spec_.resample != Resample::kNone)  // the skip conv keeps its resampled input
    bytes += tensor_bytes({batch, out_height, out_width, spec_.in_channels}, activations);
  return bytes;
}

}  // namespace diffuse::model
