// ResBlock forward and backward. The time-embedding add runs in place on
// conv1's output, which no backward reads; the residual is added in conv2's
// epilogue; SiLU and dropout run inside the group norm ops.
#include "model/res_block.h"

namespace diffuse::model {

ResBlock::ResBlock(ParameterStore& store, const std::string& name, const ResBlockSpec& spec)
    : spec_(spec),
      norm1_(store, name + ".norm1", {spec.in_channels, spec.groups, kGroupNormEps, true}),
      conv1_(store, name + ".conv1", {spec.in_channels, spec.out_channels, 3, 1, 1.0f}),
      temb_proj_(store, name + ".temb_proj", {spec.temb_channels, spec.out_channels, 1.0f}),
      norm2_(store, name + ".norm2", {spec.out_channels, spec.groups, kGroupNormEps, true}),
      conv2_(store, name + ".conv2", {spec.out_channels, spec.out_channels, 3, 1, 1e-10f}) {
  DIFFUSE_CHECK(spec.dropout >= 0.0f && spec.dropout < 1.0f, "res block '", name, "': dropout ", spec.dropout,
                " is outside [0, 1)");
  if (spec.in_channels != spec.out_channels)
    skip_ = std::make_unique<Conv2d>(store, name + ".skip", Conv2dSpec{spec.in_channels, spec.out_channels, 1, 1});
}

Tensor ResBlock::forward(const Tensor& x, const Tensor& temb, const ForwardContext& context) {
  const Tensor h = conv1_.forward(norm1_.forward(x));  // norm1 applies SiLU
  // In place: conv1's backward needs its input, not its output.
  ops::add_channel_vector_forward(h, temb_proj_.forward(temb), h);

  ops::Dropout dropout;
  if (context.training && spec_.dropout > 0.0f)
    dropout = ops::Dropout{spec_.dropout,
                           ops::DropoutKey{context.seed, context.step, context.first_sample, spec_.dropout_layer}};
  const Tensor normalized = norm2_.forward(h, dropout);  // norm2 applies SiLU, then dropout
  return conv2_.forward(normalized, skip_ ? skip_->forward(x) : x);
}

Tensor ResBlock::backward(const Tensor& dy) {
  // One running gradient, replaced layer by layer so that each is freed once the next is computed.
  Tensor g = conv2_.backward(dy);  // d (dropout(SiLU(GroupNorm2(h))))
  g = norm2_.backward(g);          // d h

  // h = conv1(...) + temb_proj(temb): dh flows to both unchanged.
  ensure_buffer(dtemb_channels_, {g.dim(0), spec_.out_channels}, g.device());
  ops::add_channel_vector_backward(g, g, dtemb_channels_);
  dtemb_ = temb_proj_.backward(dtemb_channels_);

  g = conv1_.backward(g);  // d SiLU(GroupNorm1(x))
  g = norm1_.backward(g);  // d x
  ops::accumulate(g, skip_ ? skip_->backward(dy) : dy);
  return g;
}

double ResBlock::macs_per_image(int64_t height, int64_t width) const {
  return conv1_.macs_per_image(height, width) + temb_proj_.macs_per_row() + conv2_.macs_per_image(height, width) +
         (skip_ ? skip_->macs_per_image(height, width) : 0.0);
}

// Each layer counts its output (its input is the previous layer's): SiLU(GroupNorm1(x)) (conv1's input), h
// (conv1's output plus the embedding, GroupNorm2's input), conv2's input (SiLU of GroupNorm2(h), after dropout)
// and the block's output. The normalized maps are recomputed in backward, the embedding projection is freed once
// added, and the 1x1 skip's output lives only while conv2 runs (it is added in conv2's epilogue).
int64_t ResBlock::activation_bytes(int64_t batch, int64_t height, int64_t width) const {
  return norm1_.activation_bytes(batch, height, width) + conv1_.activation_bytes(batch, height, width) +
         norm2_.activation_bytes(batch, height, width) + conv2_.activation_bytes(batch, height, width);
}

}  // namespace diffuse::model
