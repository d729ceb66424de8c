// Our U-Net as Hugging Face diffusers' UNet2DModel
// (https://github.com/huggingface/diffusers, src/diffusers/models/unets/unet_2d.py) describes it: the tensor
// names and layouts of its diffusion_pytorch_model.safetensors, its config.json and the scheduler_config.json of
// the DDPMScheduler with our noise schedule.
//
// The two networks compute the same function when config.json says:
//   time_embedding_type "positional", flip_sin_to_cos false, freq_shift 1: diffusers' sinusoid
//     [sin(t f_i), cos(t f_i)], f_i = exp(-ln(10000) i / (half - freq_shift)), is ours (core/ops.h);
//   num_class_embeds num_classes + 1 with class_embed_type null: an nn.Embedding added to the time MLP's output,
//     as ours is (our last row, "no class", is diffusers' label num_classes);
//   downsample_padding 1: our stride-2 conv pads 1 on every side (model/unet.h);
//   attention_head_dim: channels per head in every attention block (the mid block's too), so num_head_channels, or
//     with num_heads the one width C / num_heads all blocks share (refused when they differ); null: one head as
//     wide as each block (num_heads 1). Heads split q, k and v into consecutive channel slices, as ours;
//   resnet_time_scale_shift "scale_shift" for scale_shift_norm: ResnetBlock2D's time_emb_proj gives 2*out values,
//     chunked scale then shift, and norm2(h) * (1 + scale) + shift, as our ResBlock's AdaGN; with it
//     attn_norm_num_groups groups, without which the mid block's attention would have no GroupNorm;
//   downsample_type / upsample_type "resnet" for resblock_updown, with ResnetDownsampleBlock2D and
//     ResnetUpsampleBlock2D at the levels without attention: a ResnetBlock2D with down / up resamples x and
//     SiLU(norm1(x)) (2x2 average pool, nearest 2x) before conv1 and the skip, as ours;
//   norm_num_groups groups, norm_eps 1e-6, act_fn "silu", layers_per_block num_res_blocks, mid block with attention.
// Names: time_embed.{0,1} = time_embedding.linear_{1,2}; class_embed = class_embedding; conv_in; down.L.block.I =
// down_blocks.L.resnets.I (norm1, conv1, temb_proj = time_emb_proj, norm2, conv2, skip = conv_shortcut);
// down.L.attn.I = down_blocks.L.attentions.I (norm = group_norm, qkv = to_q + to_k + to_v, proj = to_out.0);
// down.L.downsample = down_blocks.L.downsamplers.0.conv (with resblock_updown a ResBlock = downsamplers.0);
// mid.{block1,attn,block2} = mid_block.{resnets.0,attentions.0,resnets.1}; up.L = up_blocks.(levels - 1 - L) with
// upsample = upsamplers.0.conv (a ResBlock = upsamplers.0); out.norm = conv_norm_out; out.conv = conv_out;
// gamma/beta = weight/bias. Conv weights are [out,in,kh,kw] there ([out,kh,kw,in] here); the attention's 1x1 convs
// are Linear [out,in] there.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/json.h"
#include "model/parameters.h"
#include "run/config.h"

namespace diffuse {

// One tensor of the diffusers file: rows [first_row, first_row + rows) of one of our parameters.
struct DiffusersTensor {
  std::string name;       // diffusers' current name ("...attentions.0.to_q.weight")
  std::string legacy;     // the name older diffusers models use ("...attentions.0.query.weight"), or ""
  std::string parameter;  // ours
  int64_t first_row = 0;
  int64_t rows = 0;
  Shape shape;  // its shape in the diffusers file
};

// The diffusers tensors of every parameter of `store`, in our order; an Error naming a parameter that UNet2DModel
// has no place for.
std::vector<DiffusersTensor> diffusers_tensors(const model::ParameterStore& store);

// PyTorch's channels-first order and ours, for a 4-D f32 host tensor (new tensors): [A,B,C,D] -> [A,D,B,C], e.g.
// images NHWC -> NCHW and conv weights [out,kh,kw,in] -> [out,in,kh,kw]; and back, [A,D,B,C] -> [A,B,C,D].
Tensor channels_first(const Tensor& channels_last);
Tensor channels_last(const Tensor& channels_first);

// Our parameter's rows as the diffusers tensor (a new host tensor of tensor.shape).
Tensor to_diffusers(const DiffusersTensor& tensor, const Tensor& parameter);
// Writes the diffusers tensor `value` (of tensor.shape) into our parameter's rows (a host tensor).
void from_diffusers(const DiffusersTensor& tensor, const Tensor& value, const Tensor& parameter);

// The config keys export maps (or knows to be training-only), "model.channels", ...
const std::vector<std::string>& diffusers_mapped_keys();
// An Error naming the first model or diffusion setting that is outside diffusers_mapped_keys() and not at its
// default: something UNet2DModel or the exporter does not express.
void check_expressible_in_diffusers(const Config& config);

// UNet2DModel's config.json for our model.
Json diffusers_unet_config(const ModelConfig& model);
// An Error naming `origin` and the first key of `theirs` (a UNet2DModel config.json, absent keys taking diffusers'
// defaults) that describes another network than `model`.
void check_diffusers_unet_config(const Json& theirs, const ModelConfig& model, const std::string& origin);

// The DDPMScheduler config of our schedule and prediction; a null Json with `why_not` set when diffusers'
// schedulers cannot express it (the continuous cosine schedule; EDM's preconditioning, which `why_not` spells out).
Json diffusers_scheduler_config(const DiffusionConfig& diffusion, std::string& why_not);
// An Error naming `origin` and the first of prediction_type, beta_schedule and num_train_timesteps in which
// `theirs` (a scheduler_config.json, absent keys taking DDPMScheduler's defaults) differs from `ours`, what
// diffusers_scheduler_config writes for the config's schedule.
void check_diffusers_scheduler_config(const Json& theirs, const Json& ours, const std::string& origin);

}  // namespace diffuse
