// AttentionBlock: DDPM's self-attention with a residual, with ADM's heads,
//   y = x + proj(attention(qkv(GroupNorm(x))))
// over the H*W pixels of each image. Head h of `heads` (D = C / heads channels each) attends with
// channels [h*D, (h+1)*D) of each of q, k and v and writes those channels of the attention output:
//   attention_h = softmax(q_h k_h^T / sqrt(D)) v_h
// This is guided-diffusion's QKVAttention (use_new_attention_order) split; with one head it is DDPM's
// single-head attention over all C channels, and the parameter layout is the same for any head count.
// Parameters under <name>:
//   norm.gamma, norm.beta [C]; qkv.weight [3C,1,1,C] (q, k, v side by side), qkv.bias [3C];
//   proj.weight [C,1,1,C] (init scale 1e-10, as DDPM), proj.bias [C].
//
// Backward ACCUMULATES parameter gradients into the store's gradient views and
// WRITES dx. The input passed to forward must stay unchanged until backward.
#pragma once

#include <string>

#include "core/tensor.h"
#include "model/conv2d.h"
#include "model/group_norm.h"
#include "model/parameters.h"

namespace diffuse::model {

struct AttentionBlockSpec {
  int channels = 0;
  int groups = 32;
  int heads = 1;  // divides channels
};

struct AttentionBlockActivations {
  Tensor qkv;    // [N,L,3C] the qkv conv's output seen as tokens (L = H*W); a view, not a copy
  Tensor probs;  // [N*heads,L,L] the softmax, saved for backward
};

class AttentionBlock {
 public:
  AttentionBlock(ParameterStore& store, const std::string& name, const AttentionBlockSpec& spec);

  // x [N,H,W,C] -> y [N,H,W,C], a new tensor in x's dtype (the softmax probabilities are f32).
  Tensor forward(const Tensor& x);
  // dy [N,H,W,C] -> dx [N,H,W,C], a new tensor the block does not keep.
  Tensor backward(const Tensor& dy);

  double macs_per_image(int64_t height, int64_t width) const;
  int64_t activation_bytes(int64_t batch, int64_t height, int64_t width, DType activations) const;

 private:
  AttentionBlockSpec spec_;
  GroupNorm norm_;  // <name>.norm
  Conv2d qkv_;      // <name>.qkv, 1x1, C -> 3C
  Conv2d proj_;     // <name>.proj, 1x1, C -> C, starts near zero
  AttentionBlockActivations activations_;
};

}  // namespace diffuse::model
