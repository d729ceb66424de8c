// UNet: the DDPM U-Net of Ho et al. 2020 over NHWC images, forward and
// backward written out in order (no autograd).
//
//   temb = Linear(4ch,4ch)(SiLU(Linear(ch,4ch)(sinusoidal(t)))) [+ class_embed[label]]
//   h = conv_in(x); skips = [h]
//   per level: num_res_blocks x (ResBlock [+ attention]) pushing each output to skips,
//              then a stride-2 3x3 conv (all levels but the last), pushed too
//   mid: ResBlock, attention, ResBlock
//   per level, last to first: num_res_blocks + 1 x (ResBlock on concat(h, skips.pop())
//              [+ attention]), then nearest-2x + 3x3 conv (all levels but 0)
//   out = conv3x3(SiLU(GroupNorm(h)))
// Every ResBlock gets SiLU(temb). Attention sits at the levels whose
// resolution is listed in attention_resolutions.
//
// ADM's options (Dhariwal & Nichol 2021, guided-diffusion's unet.py), all off by default:
//  - scale_shift_norm: every ResBlock uses AdaGN (model/res_block.h), its temb_proj twice as wide.
//  - num_heads / num_head_channels: attention heads (model/attention_block.h says how heads split the
//    channels); with num_head_channels > 0 a block of C channels has C / num_head_channels heads.
//  - resblock_updown: the downsampling conv and the upsampling nearest-2x + conv are replaced by a
//    ResBlock (C -> C) that resamples inside (Resample::kDown / kUp), under the same names.
//
// One deliberate difference from the TensorFlow original: the stride-2
// downsampling conv pads 1 pixel on every side (as the PyTorch ports and
// improved DDPM do) where TF's 'SAME' pads only bottom/right; the parameter
// count is the same.
//
// Parameter names (declaration order = flat-buffer order = forward order):
//   time_embed.0.{weight,bias}  [4ch,ch], [4ch]       time_embed.1.{weight,bias}  [4ch,4ch], [4ch]
//   class_embed.weight          [num_classes+1, 4ch]  (conditional models only; last row = "no class")
//   conv_in.{weight,bias}       [ch,3,3,image_channels], [ch]
//   down.<level>.block.<i>.*    ResBlocks, i < num_res_blocks
//   down.<level>.attn.<i>.*     AttentionBlocks after block i, at attention resolutions
//   down.<level>.downsample.{weight,bias}             all levels but the last (a ResBlock's names with
//                                                     resblock_updown, as up.<level>.upsample.*)
//   mid.block1.*, mid.attn.*, mid.block2.*
//   up.<level>.block.<i>.*      ResBlocks, i <= num_res_blocks; levels declared last to first
//   up.<level>.attn.<i>.*
//   up.<level>.upsample.{weight,bias}                 all levels but 0
//   out.norm.{gamma,beta}, out.conv.{weight,bias}     [image_channels,3,3,ch]
// where ResBlock names are norm1.{gamma,beta} conv1.{weight,bias} temb_proj.{weight,bias}
// norm2.{gamma,beta} conv2.{weight,bias} [skip.{weight,bias}] and AttentionBlock names are
// norm.{gamma,beta} qkv.{weight,bias} proj.{weight,bias}. Conv weights are [out,kh,kw,in],
// linear weights [out,in].
//
// backward() ACCUMULATES every parameter gradient into the store's gradient
// buffer (call ParameterStore::zero_grads() between steps); the input gradient
// is not computed. The inputs passed to forward must stay unchanged until backward.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/attention_block.h"
#include "model/conv2d.h"
#include "model/embeddings.h"
#include "model/forward_context.h"
#include "model/group_norm.h"
#include "model/parameters.h"
#include "model/res_block.h"
#include "model/upsample.h"

namespace diffuse::model {

struct UNetSpec {
  int image_size = 0;                      // H = W of the input
  int image_channels = 0;                  // C of the input and the output
  int channels = 0;                        // ch: width of level 0; the time embedding is 4ch wide
  std::vector<int> channel_mults;          // level l has ch * channel_mults[l] channels
  int num_res_blocks = 0;                  // per level on the down path (+1 on the up path)
  std::vector<int> attention_resolutions;  // resolutions (H) with self-attention after each ResBlock
  float dropout = 0.0f;                    // in every ResBlock, training mode only
  int num_classes = 0;                     // 0 = unconditional
  int groups = 32;                         // GroupNorm groups everywhere
  bool scale_shift_norm = false;           // AdaGN in every ResBlock
  int num_heads = 1;                       // attention heads, when num_head_channels is 0
  int num_head_channels = 0;               // > 0: channels per attention head (heads = channels / this)
  bool resblock_updown = false;            // resample with ResBlocks instead of convs
};

// The DDPM CIFAR-10 model: 32x32x3, ch 128, mults (1,2,2,2), 2 res blocks,
// attention at 16, dropout 0.1, unconditional; 35,746,307 parameters.
UNetSpec ddpm_cifar10_spec();

// One resolution of the down or the up path.
struct UNetLevel {
  int channels = 0;    // ch * channel_mults[level]
  int resolution = 0;  // H = W of this level's features
  std::vector<std::unique_ptr<ResBlock>> blocks;
  std::vector<std::unique_ptr<AttentionBlock>> attentions;  // one per block, or empty without attention
  std::unique_ptr<Conv2d> downsample;  // down path: 3x3 stride 2; null at the last level or with resblock_updown
  std::unique_ptr<Upsample> upsample;  // up path: nearest 2x + 3x3; null at level 0 or with resblock_updown
  std::unique_ptr<ResBlock> resample;  // with resblock_updown: the ResBlock that does either of the above
};

// What backward reads besides what the layers keep.
struct UNetActivations {
  DType dtype = DType::F32;  // what the last forward that kept its activations computed in
  Tensor temb;               // [N,4ch] time (+ class) embedding, SiLU's input
  // Backward only.
  Tensor dtemb_activated;  // [N,4ch] sum over ResBlocks of d temb_activated; then d temb in place
};

class UNet {
 public:
  // Declares all parameters in `store` (which must not be finalized yet). `compute_dtype` is what training
  // forwards and their backward compute in: F32, or BF16 / F16 (mixed precision), which also gives the store its
  // compute copy of the weights (ParameterStore::set_compute_dtype).
  UNet(const UNetSpec& spec, ParameterStore& store, DType compute_dtype = DType::F32);

  // x [N,S,S,image_channels] f32, t [N] f32 (the value fed to the sinusoidal
  // embedding), labels [N] i32 in [0, num_classes] (num_classes = "no class")
  // or undefined when unconditional -> [N,S,S,image_channels], a new f32 tensor.
  // Inside a NoBackward scope (model/layer_support.h) it keeps nothing for
  // backward and holds only the skips and a few maps at a time.
  //
  // A training forward (context.training) computes in the compute dtype: with
  // BF16 or F16 it rounds x once, every map between layers (and every gradient
  // in backward) is stored in that type, the products read the store's compute
  // copy (which the caller keeps current, ParameterStore::update_compute_copy),
  // and the output is widened to f32 for the loss. The time embedding, the
  // statistics and the parameter gradients stay f32. Other forwards (sampling,
  // teachers) compute in f32 from the fp32 master weights.
  Tensor forward(const Tensor& x, const Tensor& t, const Tensor& labels, const ForwardContext& context);
  // dout [N,S,S,image_channels]: accumulates all parameter gradients.
  void backward(const Tensor& dout);

  // Multiply-adds of one forward pass per image (convolutions, linears, attention products).
  double forward_macs_per_image() const { return macs_per_image_; }
  // Bytes the forward keeps for backward at this batch size, in training mode (in the compute dtype).
  int64_t activation_bytes(int batch) const { return activation_bytes_per_image_ * batch; }

  const UNetSpec& spec() const { return spec_; }
  const ParameterStore& store() const { return store_; }

 private:
  void check_inputs(const Tensor& x, const Tensor& t, const Tensor& labels) const;
  std::unique_ptr<ResBlock> make_block(const std::string& name, int in_channels, int out_channels, int resolution,
                                       Resample resample = Resample::kNone);
  std::unique_ptr<AttentionBlock> make_attention(const std::string& name, int channels, int resolution);
  void add_dtemb(const Tensor& dtemb, bool first);

  UNetSpec spec_;
  ParameterStore& store_;
  DType compute_dtype_;
  int temb_channels_;
  uint32_t dropout_sites_ = 0;  // ResBlocks made so far: each gets its own dropout layer id
  double macs_per_image_ = 0.0;
  int64_t activation_bytes_per_image_ = 0;
  std::vector<int> skip_channels_;  // channels of each skip in push order

  std::unique_ptr<TimeEmbedding> time_embed_;    // time_embed
  std::unique_ptr<ClassEmbedding> class_embed_;  // class_embed; null when unconditional
  std::unique_ptr<Conv2d> conv_in_;              // conv_in, 3x3, image_channels -> ch
  std::vector<UNetLevel> down_;                  // down.<level>, level 0 first
  std::unique_ptr<ResBlock> mid_block1_;         // mid.block1
  std::unique_ptr<AttentionBlock> mid_attn_;     // mid.attn
  std::unique_ptr<ResBlock> mid_block2_;         // mid.block2
  std::vector<UNetLevel> up_;                    // up.<level>, in forward order: the last level first
  std::unique_ptr<GroupNorm> out_norm_;          // out.norm, with SiLU
  std::unique_ptr<Conv2d> out_conv_;             // out.conv, 3x3, ch -> image_channels, starts near zero
  UNetActivations activations_;
};

}  // namespace diffuse::model
