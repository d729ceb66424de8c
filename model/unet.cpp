// UNet construction (parameter declaration in forward order, cost and memory
// bookkeeping), forward in order and backward in exact reverse order.
#include "model/unet.h"

#include <algorithm>
#include <string>
#include <utility>

#include "core/ops.h"

namespace diffuse::model {

UNetSpec ddpm_cifar10_spec() {
  UNetSpec spec;
  spec.image_size = 32;
  spec.image_channels = 3;
  spec.channels = 128;
  spec.channel_mults = {1, 2, 2, 2};
  spec.num_res_blocks = 2;
  spec.attention_resolutions = {16};
  spec.dropout = 0.1f;
  spec.num_classes = 0;
  spec.groups = 32;
  return spec;
}

namespace {

void validate(const UNetSpec& spec) {
  DIFFUSE_CHECK(spec.image_size > 0 && spec.image_channels > 0,
                "U-Net: image_size and image_channels must be positive");
  DIFFUSE_CHECK(spec.channels >= 4 && spec.channels % 2 == 0, "U-Net: channels (", spec.channels,
                ") must be even and >= 4 (the sinusoidal embedding width)");
  DIFFUSE_CHECK(!spec.channel_mults.empty(), "U-Net: channel_mults is empty");
  DIFFUSE_CHECK(spec.num_res_blocks >= 1, "U-Net: num_res_blocks must be >= 1");
  DIFFUSE_CHECK(spec.groups > 0 && spec.channels % spec.groups == 0, "U-Net: channels (", spec.channels,
                ") must be divisible by groups (", spec.groups, ")");
  for (int mult : spec.channel_mults) DIFFUSE_CHECK(mult > 0, "U-Net: channel multiplier ", mult, " must be positive");
  const int levels = static_cast<int>(spec.channel_mults.size());
  DIFFUSE_CHECK(spec.image_size % (1 << (levels - 1)) == 0, "U-Net: image_size ", spec.image_size, " cannot be halved ",
                levels - 1, " times");
  for (int resolution : spec.attention_resolutions) {
    bool found = false;
    for (int level = 0; level < levels; ++level) found = found || (spec.image_size >> level) == resolution;
    DIFFUSE_CHECK(found, "U-Net: attention resolution ", resolution, " is not a resolution of this model (",
                  spec.image_size, " down to ", spec.image_size >> (levels - 1), ")");
  }
  DIFFUSE_CHECK(spec.dropout >= 0.0f && spec.dropout < 1.0f, "U-Net: dropout ", spec.dropout, " is outside [0, 1)");
  DIFFUSE_CHECK(spec.num_classes >= 0, "U-Net: num_classes must be >= 0");
  DIFFUSE_CHECK(spec.num_heads >= 1, "U-Net: num_heads must be positive");
  DIFFUSE_CHECK(spec.num_head_channels >= 0, "U-Net: num_head_channels must be >= 0");
  DIFFUSE_CHECK(spec.num_heads == 1 || spec.num_head_channels == 0,
                "U-Net: num_heads and num_head_channels are exclusive: set num_heads to 1 or num_head_channels to 0");
}

// Heads of an attention block of `channels` channels at `resolution`.
int attention_heads(const UNetSpec& spec, int channels, int resolution) {
  if (spec.num_head_channels == 0) {
    DIFFUSE_CHECK(channels % spec.num_heads == 0, "U-Net: num_heads ", spec.num_heads, " does not divide the ",
                  channels, " channels at resolution ", resolution);
    return spec.num_heads;
  }
  DIFFUSE_CHECK(channels % spec.num_head_channels == 0, "U-Net: num_head_channels ", spec.num_head_channels,
                " does not divide the ", channels, " channels at resolution ", resolution);
  return channels / spec.num_head_channels;
}

bool has_attention(const UNetSpec& spec, int resolution) {
  const auto& listed = spec.attention_resolutions;
  return std::find(listed.begin(), listed.end(), resolution) != listed.end();
}

// x in `dtype`: x itself when it has it, else a rounded (or widened) copy.
Tensor converted(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  const Tensor y = Tensor::empty(x.shape(), dtype, x.device());
  ops::cast(x, y);
  return y;
}

std::string name_of(const char* path, int level, const char* part, int index = -1) {
  std::string name = std::string(path) + "." + std::to_string(level) + "." + part;
  if (index >= 0) name += "." + std::to_string(index);
  return name;
}

}  // namespace

std::unique_ptr<ResBlock> UNet::make_block(const std::string& name, int in_channels, int out_channels, int resolution,
                                           Resample resample) {
  auto block =
      std::make_unique<ResBlock>(store_, name,
                                 ResBlockSpec{in_channels, out_channels, temb_channels_, spec_.groups, spec_.dropout,
                                              dropout_sites_++, spec_.scale_shift_norm, resample});
  macs_per_image_ += block->macs_per_image(resolution, resolution);
  activation_bytes_per_image_ += block->activation_bytes(1, resolution, resolution, compute_dtype_);
  return block;
}

std::unique_ptr<AttentionBlock> UNet::make_attention(const std::string& name, int channels, int resolution) {
  auto attention = std::make_unique<AttentionBlock>(
      store_, name, AttentionBlockSpec{channels, spec_.groups, attention_heads(spec_, channels, resolution)});
  macs_per_image_ += attention->macs_per_image(resolution, resolution);
  activation_bytes_per_image_ += attention->activation_bytes(1, resolution, resolution, compute_dtype_);
  return attention;
}

UNet::UNet(const UNetSpec& spec, ParameterStore& store, DType compute_dtype)
    : spec_(spec), store_(store), compute_dtype_(compute_dtype), temb_channels_(4 * spec.channels) {
  validate(spec);
  DIFFUSE_CHECK(!store.finalized(), "U-Net: the parameter store is already finalized");
  store.set_compute_dtype(compute_dtype);  // checks the dtype
  const int levels = static_cast<int>(spec.channel_mults.size());
  const int ch = spec.channels;

  time_embed_ = std::make_unique<TimeEmbedding>(store, "time_embed", ch, temb_channels_);
  macs_per_image_ += time_embed_->macs_per_image();
  activation_bytes_per_image_ += time_embed_->activation_bytes(1);
  if (spec.num_classes > 0) {
    class_embed_ = std::make_unique<ClassEmbedding>(store, "class_embed", spec.num_classes, temb_channels_);
  }
  activation_bytes_per_image_ += f32_bytes({1, temb_channels_});  // temb_activated

  int resolution = spec.image_size;
  conv_in_ = std::make_unique<Conv2d>(store, "conv_in", Conv2dSpec{spec.image_channels, ch, 3, 1});
  macs_per_image_ += conv_in_->macs_per_image(resolution, resolution);
  activation_bytes_per_image_ += conv_in_->activation_bytes(1, resolution, resolution, compute_dtype_);
  // In bf16 or f16 conv_in keeps the rounded copy of the input (in f32 the caller's input, not counted here).
  if (compute_dtype_ != DType::F32)
    activation_bytes_per_image_ += tensor_bytes({1, resolution, resolution, spec.image_channels}, compute_dtype_);
  skip_channels_.push_back(ch);

  int channels = ch;
  for (int l = 0; l < levels; ++l) {
    UNetLevel level;
    level.channels = ch * spec.channel_mults[l];
    level.resolution = resolution;
    for (int i = 0; i < spec.num_res_blocks; ++i) {
      level.blocks.push_back(make_block(name_of("down", l, "block", i), channels, level.channels, resolution));
      channels = level.channels;
      if (has_attention(spec, resolution))
        level.attentions.push_back(make_attention(name_of("down", l, "attn", i), channels, resolution));
      skip_channels_.push_back(channels);
    }
    if (l != levels - 1 && spec.resblock_updown) {
      level.resample = make_block(name_of("down", l, "downsample"), channels, channels, resolution, Resample::kDown);
      resolution /= 2;
      skip_channels_.push_back(channels);
    } else if (l != levels - 1) {
      level.downsample =
          std::make_unique<Conv2d>(store, name_of("down", l, "downsample"), Conv2dSpec{channels, channels, 3, 2});
      macs_per_image_ += level.downsample->macs_per_image(resolution, resolution);
      activation_bytes_per_image_ += level.downsample->activation_bytes(1, resolution, resolution, compute_dtype_);
      resolution /= 2;
      skip_channels_.push_back(channels);
    }
    down_.push_back(std::move(level));
  }

  mid_block1_ = make_block("mid.block1", channels, channels, resolution);
  mid_attn_ = make_attention("mid.attn", channels, resolution);
  mid_block2_ = make_block("mid.block2", channels, channels, resolution);

  size_t unpopped = skip_channels_.size();
  for (int l = levels - 1; l >= 0; --l) {
    UNetLevel level;
    level.channels = ch * spec.channel_mults[l];
    level.resolution = resolution;
    for (int i = 0; i <= spec.num_res_blocks; ++i) {
      const int in_channels = channels + skip_channels_[--unpopped];
      // The concat is kept (the block's input); h before it is not (only concat read it).
      activation_bytes_per_image_ += tensor_bytes({1, resolution, resolution, in_channels}, compute_dtype_) -
                                     tensor_bytes({1, resolution, resolution, channels}, compute_dtype_);
      level.blocks.push_back(make_block(name_of("up", l, "block", i), in_channels, level.channels, resolution));
      channels = level.channels;
      if (has_attention(spec, resolution))
        level.attentions.push_back(make_attention(name_of("up", l, "attn", i), channels, resolution));
    }
    if (l != 0 && spec.resblock_updown) {
      level.resample = make_block(name_of("up", l, "upsample"), channels, channels, resolution, Resample::kUp);
      resolution *= 2;
    } else if (l != 0) {
      level.upsample = std::make_unique<Upsample>(store, name_of("up", l, "upsample"), channels);
      macs_per_image_ += level.upsample->macs_per_image(resolution, resolution);
      // Upsampling reads h without keeping it.
      activation_bytes_per_image_ += level.upsample->activation_bytes(1, resolution, resolution, compute_dtype_) -
                                     tensor_bytes({1, resolution, resolution, channels}, compute_dtype_);
      resolution *= 2;
    }
    up_.push_back(std::move(level));
  }

  out_norm_ = std::make_unique<GroupNorm>(store, "out.norm", GroupNormSpec{channels, spec.groups, kGroupNormEps, true});
  out_conv_ = std::make_unique<Conv2d>(store, "out.conv", Conv2dSpec{channels, spec.image_channels, 3, 1, 1e-10f});
  macs_per_image_ += out_conv_->macs_per_image(resolution, resolution);
  // The output is returned in f32 whatever the compute dtype.
  activation_bytes_per_image_ += out_norm_->activation_bytes(1, resolution, resolution, compute_dtype_) +
                                 out_conv_->activation_bytes(1, resolution, resolution, DType::F32);
}

void UNet::check_inputs(const Tensor& x, const Tensor& t, const Tensor& labels) const {
  DIFFUSE_CHECK(store_.finalized(), "U-Net forward before the parameter store is finalized");
  const int64_t s = spec_.image_size;
  DIFFUSE_CHECK(x.defined() && x.rank() == 4 && x.dtype() == DType::F32 && x.dim(0) > 0 && x.dim(1) == s &&
                    x.dim(2) == s && x.dim(3) == spec_.image_channels,
                "U-Net input must be f32 [N,", s, ",", s, ",", spec_.image_channels, "], got ", x.describe());
  DIFFUSE_CHECK(x.device() == store_.device(), "U-Net input is on ", device_name(x.device()), ", the parameters on ",
                device_name(store_.device()));
  DIFFUSE_CHECK(t.defined() && t.shape() == Shape{x.dim(0)} && t.dtype() == DType::F32, "U-Net timesteps must be f32 [",
                x.dim(0), "], got ", t.describe());
  if (class_embed_) {
    DIFFUSE_CHECK(labels.defined() && labels.shape() == Shape{x.dim(0)} && labels.dtype() == DType::I32,
                  "this U-Net is class-conditional: labels must be i32 [", x.dim(0), "] (", spec_.num_classes,
                  " = no class), got ", labels.describe());
  } else {
    DIFFUSE_CHECK(!labels.defined(), "this U-Net is unconditional but was given labels ", labels.describe());
  }
}

Tensor UNet::forward(const Tensor& x, const Tensor& t, const Tensor& labels, const ForwardContext& context) {
  check_inputs(x, t, labels);
  UNetActivations& a = activations_;
  const Device device = x.device();
  const int64_t n = x.dim(0);
  const DType dtype = context.training ? compute_dtype_ : DType::F32;
  if (keeping_activations()) a.dtype = dtype;  // for the backward of this forward

  const Tensor temb = time_embed_->forward(t);
  // In place: the time embedding's last linear does not need its output for backward.
  if (class_embed_) ops::add(temb, class_embed_->forward(labels), temb);
  const Tensor temb_activated = new_f32(temb.shape(), device);
  ops::silu_forward(temb, temb_activated);
  keep_for_backward(a.temb, temb);

  std::vector<Tensor> skips;
  Tensor h = conv_in_->forward(converted(x, dtype));
  skips.push_back(h);
  for (UNetLevel& level : down_) {
    for (size_t i = 0; i < level.blocks.size(); ++i) {
      h = level.blocks[i]->forward(h, temb_activated, context);
      if (!level.attentions.empty()) h = level.attentions[i]->forward(h);
      skips.push_back(h);
    }
    if (level.downsample) {
      h = level.downsample->forward(h);
      skips.push_back(h);
    } else if (level.resample) {
      h = level.resample->forward(h, temb_activated, context);
      skips.push_back(h);
    }
  }

  h = mid_block1_->forward(h, temb_activated, context);
  h = mid_attn_->forward(h);
  h = mid_block2_->forward(h, temb_activated, context);

  for (UNetLevel& level : up_) {
    for (size_t i = 0; i < level.blocks.size(); ++i) {
      const Tensor skip = std::move(skips.back());  // released here unless a layer keeps it
      skips.pop_back();
      const Tensor input = new_activation({n, h.dim(1), h.dim(2), h.dim(3) + skip.dim(3)}, h);
      ops::concat_channels(h, skip, input);
      h = level.blocks[i]->forward(input, temb_activated, context);
      if (!level.attentions.empty()) h = level.attentions[i]->forward(h);
    }
    if (level.upsample) h = level.upsample->forward(h);
    if (level.resample) h = level.resample->forward(h, temb_activated, context);
  }

  return converted(out_conv_->forward(out_norm_->forward(h)), DType::F32);  // out_norm applies SiLU
}

// Every ResBlock reads temb_activated, so its gradient is the sum of theirs.
void UNet::add_dtemb(const Tensor& dtemb, bool first) {
  if (first) {
    ops::scale(dtemb, 1.0f, ensure_buffer(activations_.dtemb_activated, dtemb.shape(), dtemb.device()));
  } else {
    ops::accumulate(activations_.dtemb_activated, dtemb);
  }
}

void UNet::backward(const Tensor& dout) {
  UNetActivations& a = activations_;
  const Tensor temb = take_kept(a.temb, "U-Net");
  // g is the running gradient: each layer's result replaces it, so only it and the skips' gradients are alive.
  Tensor g = out_norm_->backward(out_conv_->backward(converted(dout, a.dtype)));

  // Up path in reverse. Up ResBlock u (forward order) read skip S-1-u; its
  // input gradient splits into d h and that skip's gradient, kept until the
  // down path reaches the skip.
  const size_t skip_count = skip_channels_.size();
  // Per skip (push order): its up ResBlock's gradient until the down path adds it.
  std::vector<Tensor> dskips(skip_count);
  size_t next_skip = 0;  // up blocks run backward in reverse, so they meet the skips in push order
  bool first_temb = true;
  for (auto level = up_.rbegin(); level != up_.rend(); ++level) {
    if (level->upsample) g = level->upsample->backward(g);
    if (level->resample) {
      g = level->resample->backward(g);
      add_dtemb(level->resample->dtemb(), first_temb);
      first_temb = false;
    }
    for (size_t i = level->blocks.size(); i-- > 0;) {
      if (!level->attentions.empty()) g = level->attentions[i]->backward(g);
      const Tensor dinput = level->blocks[i]->backward(g);
      add_dtemb(level->blocks[i]->dtemb(), first_temb);
      first_temb = false;
      const size_t skip = next_skip++;
      // The skip has the block input's batch and resolution, and skip_channels_[skip] of its channels.
      const int64_t skip_width = skip_channels_[skip];
      g = new_activation({dinput.dim(0), dinput.dim(1), dinput.dim(2), dinput.dim(3) - skip_width}, dinput);
      dskips[skip] = new_activation({dinput.dim(0), dinput.dim(1), dinput.dim(2), skip_width}, dinput);
      ops::split_channels(dinput, g, dskips[skip]);
    }
  }

  g = mid_block2_->backward(g);
  add_dtemb(mid_block2_->dtemb(), false);
  g = mid_attn_->backward(g);
  g = mid_block1_->backward(g);
  add_dtemb(mid_block1_->dtemb(), false);

  // Down path in reverse: each pushed tensor also gets its skip's gradient.
  size_t skip = skip_count;
  const auto add_skip_gradient = [&] {
    ops::accumulate(g, dskips[--skip]);
    dskips[skip] = Tensor();
  };
  for (auto level = down_.rbegin(); level != down_.rend(); ++level) {
    if (level->downsample) {
      add_skip_gradient();
      g = level->downsample->backward(g);
    } else if (level->resample) {
      add_skip_gradient();
      g = level->resample->backward(g);
      add_dtemb(level->resample->dtemb(), false);
    }
    for (size_t i = level->blocks.size(); i-- > 0;) {
      add_skip_gradient();
      if (!level->attentions.empty()) g = level->attentions[i]->backward(g);
      g = level->blocks[i]->backward(g);
      add_dtemb(level->blocks[i]->dtemb(), false);
    }
  }
  add_skip_gradient();
  conv_in_->backward(g, InputGradient::kSkip);
  g = Tensor();

  // temb_activated = SiLU(temb); temb = time_embed(t) [+ class_embed(labels)].
  ops::silu_backward(temb, a.dtemb_activated, a.dtemb_activated);
  time_embed_->backward(a.dtemb_activated);
  if (class_embed_) class_embed_->backward(a.dtemb_activated);
}

}  // namespace diffuse::model
