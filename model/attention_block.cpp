// AttentionBlock forward and backward: GroupNorm, 1x1 qkv conv, attention,
// 1x1 projection, residual.
#include "model/attention_block.h"

#include "core/ops.h"

namespace diffuse::model {

AttentionBlock::AttentionBlock(ParameterStore& store, const std::string& name, const AttentionBlockSpec& spec)
    : spec_(spec),
      norm_(store, name + ".norm", {spec.channels, spec.groups}),
      qkv_(store, name + ".qkv", {spec.channels, 3 * spec.channels, 1, 1, 1.0f}),
      proj_(store, name + ".proj", {spec.channels, spec.channels, 1, 1, 1e-10f}) {
  DIFFUSE_CHECK(spec.heads >= 1 && spec.channels % spec.heads == 0, "attention block '", name, "': ", spec.heads,
                " heads do not divide ", spec.channels, " channels");
}

Tensor AttentionBlock::forward(const Tensor& x) {
  AttentionBlockActivations& a = activations_;
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = spec_.channels;
  const Tensor qkv = qkv_.forward(norm_.forward(x)).reshape({n, h * w, 3 * c});
  const Tensor attended = new_activation({n, h * w, c}, x);
  const Tensor probs = new_f32({n * spec_.heads, h * w, h * w}, x.device());
  ops::attention_forward(qkv, attended, probs, spec_.heads);
  keep_for_backward(a.qkv, qkv);
  keep_for_backward(a.probs, probs);
  return proj_.forward(attended.reshape({n, h, w, c}), x);  // plus the residual, in the projection's epilogue
}

Tensor AttentionBlock::backward(const Tensor& dy) {
  AttentionBlockActivations& a = activations_;
  const Tensor qkv = take_kept(a.qkv, "attention block"), probs = std::move(a.probs);
  // Each gradient is dropped as soon as the next one is computed from it.
  Tensor dqkv = new_activation(qkv.shape(), qkv);
  ops::attention_backward(qkv, probs, proj_.backward(dy).reshape({dy.dim(0), qkv.dim(1), spec_.channels}), dqkv,
                          spec_.heads);
  const Tensor dnormalized = qkv_.backward(dqkv.reshape({dy.dim(0), dy.dim(1), dy.dim(2), 3 * spec_.channels}));
  dqkv = Tensor();
  const Tensor dx = norm_.backward(dnormalized);
  ops::accumulate(dx, dy);  // the residual path
  return dx;
}

double AttentionBlock::macs_per_image(int64_t height, int64_t width) const {
  const double tokens = static_cast<double>(height * width);
  const double attention = 2.0 * tokens * tokens * spec_.channels;  // q k^T and probs v, summed over the heads
  return qkv_.macs_per_image(height, width) + attention + proj_.macs_per_image(height, width);
}

int64_t AttentionBlock::activation_bytes(int64_t batch, int64_t height, int64_t width, DType activations) const {
  const int64_t tokens = height * width;
  return norm_.activation_bytes(batch, height, width, activations) +
         qkv_.activation_bytes(batch, height, width, activations) +
         tensor_bytes({batch, tokens, spec_.channels}, activations) + f32_bytes({batch * spec_.heads, tokens, tokens}) +
         proj_.activation_bytes(batch, height, width, activations);
}

}  // namespace diffuse::model
