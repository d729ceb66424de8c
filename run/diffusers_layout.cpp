// Name, layout and config translation between our U-Net and diffusers' UNet2DModel.
#include "run/diffusers_layout.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <utility>

#include "core/error.h"
#include "model/group_norm.h"

namespace diffuse {

namespace {

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// Splits "down.1.block.0.conv1.weight" after `parts` dots: ("down.1.block.0", "conv1.weight").
std::pair<std::string, std::string> split_after(const std::string& name, int parts) {
  size_t at = 0;
  for (int i = 0; i < parts; ++i) {
    at = name.find('.', at);
    DIFFUSE_CHECK(at != std::string::npos, "parameter ", name, " has no diffusers name");
    ++at;
  }
  return {name.substr(0, at - 1), name.substr(at)};
}

std::string norm_part(const std::string& part) {
  if (part == "gamma") return "weight";
  if (part == "beta") return "bias";
  return part;
}

// Our ResBlock's parameters (model/res_block.h) and diffusers' ResnetBlock2D's.
const std::map<std::string, std::string> kResBlockParts = {{"norm1.gamma", "norm1.weight"},
                                                           {"norm1.beta", "norm1.bias"},
                                                           {"conv1.weight", "conv1.weight"},
                                                           {"conv1.bias", "conv1.bias"},
                                                           {"temb_proj.weight", "time_emb_proj.weight"},
                                                           {"temb_proj.bias", "time_emb_proj.bias"},
                                                           {"norm2.gamma", "norm2.weight"},
                                                           {"norm2.beta", "norm2.bias"},
                                                           {"conv2.weight", "conv2.weight"},
                                                           {"conv2.bias", "conv2.bias"},
                                                           {"skip.weight", "conv_shortcut.weight"},
                                                           {"skip.bias", "conv_shortcut.bias"}};

class TensorList {
 public:
  explicit TensorList(std::vector<DiffusersTensor>& out) : out_(out) {}

  // The whole parameter under `name`; 4-D weights become [out,in,kh,kw], or [out,in] when `linear`.
  void whole(const model::Parameter& parameter, const std::string& name, bool linear = false) {
    rows(parameter, name, "", 0, parameter.shape[0], linear);
  }
  void rows(const model::Parameter& parameter, const std::string& name, const std::string& legacy, int64_t first,
            int64_t count, bool linear) {
    Shape shape = parameter.shape;
    shape[0] = count;
    if (shape.size() == 4) shape = linear ? Shape{shape[0], shape[3]} : Shape{shape[0], shape[3], shape[1], shape[2]};
    out_.push_back({name, legacy, parameter.name, first, count, shape});
  }

 private:
  std::vector<DiffusersTensor>& out_;
};

void add_res_block(TensorList& list, const model::Parameter& parameter, const std::string& prefix,
                   const std::string& part) {
  const auto found = kResBlockParts.find(part);
  DIFFUSE_CHECK(found != kResBlockParts.end(), "parameter ", parameter.name, " has no diffusers name");
  list.whole(parameter, prefix + "." + found->second);
}

void add_attention(TensorList& list, const model::Parameter& parameter, const std::string& prefix,
                   const std::string& part) {
  const auto [layer, kind] = split_after(part, 1);
  if (layer == "norm") {
    list.whole(parameter, prefix + ".group_norm." + norm_part(kind));
  } else if (layer == "qkv") {
    const int64_t width = parameter.shape[0] / 3;
    const char* current[] = {"to_q", "to_k", "to_v"};
    const char* legacy[] = {"query", "key", "value"};
    for (int i = 0; i < 3; ++i)
      list.rows(parameter, prefix + "." + current[i] + "." + kind, prefix + "." + legacy[i] + "." + kind, i * width,
                width, true);
  } else if (layer == "proj") {
    list.rows(parameter, prefix + ".to_out.0." + kind, prefix + ".proj_attn." + kind, 0, parameter.shape[0], true);
  } else {
    DIFFUSE_CHECK(false, "parameter ", parameter.name, " has no diffusers name");
  }
}

// A parameter of a down or up level: "<path>.<level>.<block|attn>.<i>.<part>" or "<path>.<level>.<resample>.<part>".
void add_level_parameter(TensorList& list, const model::Parameter& parameter, int levels) {
  const auto [head, rest] = split_after(parameter.name, 3);  // "down.1.block", "0.conv1.weight"
  const bool down = starts_with(head, "down.");
  const int level = std::stoi(split_after(head, 1).second);
  const std::string kind = split_after(head, 2).second;
  const std::string block =
      down ? "down_blocks." + std::to_string(level) : "up_blocks." + std::to_string(levels - 1 - level);
  if (kind == "downsample" || kind == "upsample") {
    const std::string resampler = block + (down ? ".downsamplers.0" : ".upsamplers.0");
    // A conv's weight and bias, or with resblock_updown a ResBlock's parts (diffusers' "resnet" resamplers).
    if (rest == "weight" || rest == "bias") return list.whole(parameter, resampler + ".conv." + rest);
    return add_res_block(list, parameter, resampler, rest);
  }
  const auto [index, part] = split_after(rest, 1);
  if (kind == "block") {
    add_res_block(list, parameter, block + ".resnets." + index, part);
  } else if (kind == "attn") {
    add_attention(list, parameter, block + ".attentions." + index, part);
  } else {
    DIFFUSE_CHECK(false, "parameter ", parameter.name, " has no diffusers name");
  }
}

void add_parameter(TensorList& list, const model::Parameter& parameter, int levels) {
  const std::string& name = parameter.name;
  if (starts_with(name, "time_embed.0.")) return list.whole(parameter, "time_embedding.linear_1." + name.substr(13));
  if (starts_with(name, "time_embed.1.")) return list.whole(parameter, "time_embedding.linear_2." + name.substr(13));
  if (name == "class_embed.weight") return list.whole(parameter, "class_embedding.weight");
  if (starts_with(name, "conv_in.")) return list.whole(parameter, name);
  if (starts_with(name, "out.norm.")) return list.whole(parameter, "conv_norm_out." + norm_part(name.substr(9)));
  if (starts_with(name, "out.conv.")) return list.whole(parameter, "conv_out." + name.substr(9));
  if (starts_with(name, "mid.block1.")) return add_res_block(list, parameter, "mid_block.resnets.0", name.substr(11));
  if (starts_with(name, "mid.block2.")) return add_res_block(list, parameter, "mid_block.resnets.1", name.substr(11));
  if (starts_with(name, "mid.attn.")) return add_attention(list, parameter, "mid_block.attentions.0", name.substr(9));
  DIFFUSE_CHECK(starts_with(name, "down.") || starts_with(name, "up."), "parameter ", name, " has no diffusers name");
  add_level_parameter(list, parameter, levels);
}

}  // namespace

std::vector<DiffusersTensor> diffusers_tensors(const model::ParameterStore& store) {
  // The levels are the down path's, "down.<level>.".
  int levels = 1;
  for (int64_t i = 0; i < store.count(); ++i) {
    const std::string& name = store.at(i).name;
    if (starts_with(name, "down.")) levels = std::max(levels, std::stoi(split_after(name, 1).second) + 1);
  }
  std::vector<DiffusersTensor> tensors;
  TensorList list(tensors);
  for (int64_t i = 0; i < store.count(); ++i) add_parameter(list, store.at(i), levels);
  return tensors;
}

namespace {

// [A,B,C,D] -> [A,D,B,C] (to_channels_first) or its inverse [A,B,C,D] -> [A,C,D,B].
Tensor move_channels(const Tensor& from, bool to_channels_first) {
  DIFFUSE_CHECK(from.rank() == 4, "moving channels needs a 4-D tensor, got ", from.describe());
  const int64_t n = from.dim(0), a = from.dim(1), b = from.dim(2), c = from.dim(3);
  Tensor to = Tensor::empty(to_channels_first ? Shape{n, c, a, b} : Shape{n, b, c, a});
  const float* in = from.f32();
  float* out = to.f32();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < a; ++y)
      for (int64_t x = 0; x < b; ++x)
        for (int64_t k = 0; k < c; ++k) {
          // Channels first, element [i,y,x,k] goes to [i,k,y,x]; back, [i,y,x,k] read as [i,C,H,W] goes to [i,x,k,y].
          const int64_t target = to_channels_first ? ((i * c + k) * a + y) * b + x : ((i * b + x) * c + k) * a + y;
          out[target] = in[((i * a + y) * b + x) * c + k];
        }
  return to;
}

// Conv weights are the only 4-D diffusers tensors in another element order; the rest are ours reshaped.
bool is_conv_weight(const DiffusersTensor& tensor, const Tensor& parameter) {
  return parameter.rank() == 4 && tensor.shape.size() == 4;
}

}  // namespace

Tensor channels_first(const Tensor& channels_last) { return move_channels(channels_last, true); }
Tensor channels_last(const Tensor& channels_first) { return move_channels(channels_first, false); }

Tensor to_diffusers(const DiffusersTensor& tensor, const Tensor& parameter) {
  const Tensor rows = parameter.slice(tensor.first_row, tensor.first_row + tensor.rows);
  if (is_conv_weight(tensor, parameter)) return channels_first(rows);
  Tensor out = Tensor::empty(tensor.shape);
  std::memcpy(out.f32(), rows.f32(), static_cast<size_t>(rows.numel()) * sizeof(float));
  return out;
}

void from_diffusers(const DiffusersTensor& tensor, const Tensor& value, const Tensor& parameter) {
  DIFFUSE_CHECK(value.shape() == tensor.shape, "diffusers tensor ", tensor.name, " has shape ", value.describe(),
                ", the model needs ", Tensor::empty(tensor.shape).describe());
  const Tensor rows = parameter.slice(tensor.first_row, tensor.first_row + tensor.rows);
  const Tensor ours = is_conv_weight(tensor, parameter) ? channels_last(value) : value;
  std::memcpy(rows.f32(), ours.f32(), static_cast<size_t>(rows.numel()) * sizeof(float));
}

const std::vector<std::string>& diffusers_mapped_keys() {
  static const std::vector<std::string> keys = {
      "model.image_size", "model.image_channels", "model.channels", "model.channel_mults", "model.num_res_blocks",
      "model.attention_resolutions", "model.dropout", "model.num_classes", "model.groups", "model.scale_shift_norm",
      "model.num_heads", "model.num_head_channels", "model.resblock_updown",
      // The scheduler config's, or with formulation edm the preconditioning export describes (sigma_data);
      // the loss weight, class dropout and EDM's training noise levels matter to training only.
      "diffusion.schedule", "diffusion.timesteps", "diffusion.prediction", "diffusion.formulation",
      "diffusion.sigma_data", "diffusion.loss_weight", "diffusion.min_snr_gamma", "diffusion.class_dropout",
      "diffusion.p_mean", "diffusion.p_std"};
  return keys;
}

namespace {

bool has_attention(const ModelConfig& model, int level) {
  const auto& listed = model.attention_resolutions;
  return std::find(listed.begin(), listed.end(), model.image_size >> level) != listed.end();
}

// The channel counts of the attention blocks: the levels with attention, and the middle block's (the last level's).
std::vector<int> attention_widths(const ModelConfig& model) {
  std::vector<int> widths;
  for (size_t level = 0; level < model.channel_mults.size(); ++level)
    if (has_attention(model, static_cast<int>(level))) widths.push_back(model.channels * model.channel_mults[level]);
  widths.push_back(model.channels * model.channel_mults.back());
  return widths;
}

// Our heads in an attention block of `width` channels (model/unet.h).
int heads_of(const ModelConfig& model, int width) {
  return model.num_head_channels > 0 ? width / model.num_head_channels : model.num_heads;
}

// UNet2DModel's attention_head_dim: the channels per head of every attention block, null meaning one head as wide
// as each block. An Error when our heads are of different widths in different blocks, which diffusers cannot say.
Json diffusers_attention_head_dim(const ModelConfig& model) {
  if (model.num_head_channels > 0) return model.num_head_channels;
  if (model.num_heads == 1) return Json();
  const std::vector<int> widths = attention_widths(model);
  const int head = widths.front() / model.num_heads;
  for (const int width : widths)
    DIFFUSE_CHECK(width / model.num_heads == head, "model.num_heads = ", model.num_heads, " makes attention heads of ",
                  head, " and ", width / model.num_heads,
                  " channels, but diffusers' UNet2DModel has one attention_head_dim (channels per head) for every "
                  "attention block; model.num_head_channels sets that");
  return head;
}

}  // namespace

void check_expressible_in_diffusers(const Config& config) {
  diffusers_attention_head_dim(config.model);
  const YAML::Node ours = YAML::Load(config_to_yaml(config));
  const YAML::Node defaults = YAML::Load(config_to_yaml(Config{}));
  const auto& mapped = diffusers_mapped_keys();
  for (const char* section : {"model", "diffusion"}) {
    for (const auto& entry : ours[section]) {
      const std::string key = std::string(section) + "." + entry.first.as<std::string>();
      if (std::find(mapped.begin(), mapped.end(), key) != mapped.end()) continue;
      DIFFUSE_CHECK(YAML::Dump(entry.second) == YAML::Dump(defaults[section][entry.first.as<std::string>()]), key,
                    " = ", YAML::Dump(entry.second), " has no counterpart in diffusers' UNet2DModel export");
    }
  }
}

namespace {

// UNet2DModel's defaults (diffusers 0.27) for the keys a config.json may leave out.
Json diffusers_default(const std::string& key) {
  static const Json defaults = {
      {"in_channels", 3},
      {"out_channels", 3},
      {"center_input_sample", false},
      {"time_embedding_type", "positional"},
      {"freq_shift", 0},
      {"flip_sin_to_cos", true},
      {"down_block_types", {"DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"}},
      {"up_block_types", {"AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"}},
      {"block_out_channels", {224, 448, 672, 896}},
      {"layers_per_block", 2},
      {"mid_block_scale_factor", 1},
      {"downsample_padding", 1},
      {"downsample_type", "conv"},
      {"upsample_type", "conv"},
      {"act_fn", "silu"},
      {"attention_head_dim", 8},
      {"norm_num_groups", 32},
      {"attn_norm_num_groups", nullptr},
      {"norm_eps", 1e-5},
      {"resnet_time_scale_shift", "default"},
      {"add_attention", true},
      {"class_embed_type", nullptr},
      {"num_class_embeds", nullptr}};
  return defaults.contains(key) ? defaults[key] : Json();
}

// Whether `value` is a whole number that int holds (get<int> would silently cut a larger one).
bool holds_int(const Json& value) {
  if (value.is_number_unsigned())
    return value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int>::max());
  return value.is_number_integer() && value.get<int64_t>() >= std::numeric_limits<int>::min() &&
         value.get<int64_t>() <= std::numeric_limits<int>::max();
}

}  // namespace

Json diffusers_unet_config(const ModelConfig& model) {
  Json down_types = Json::array(), up_types = Json::array(), widths = Json::array();
  const int levels = static_cast<int>(model.channel_mults.size());
  // With resblock_updown the levels without attention resample with ResBlocks too (diffusers' DownBlock2D and
  // UpBlock2D resample with convs whatever downsample_type and upsample_type say).
  const char* plain_down = model.resblock_updown ? "ResnetDownsampleBlock2D" : "DownBlock2D";
  const char* plain_up = model.resblock_updown ? "ResnetUpsampleBlock2D" : "UpBlock2D";
  const char* resampler = model.resblock_updown ? "resnet" : "conv";
  for (int level = 0; level < levels; ++level) {
    down_types.push_back(has_attention(model, level) ? "AttnDownBlock2D" : plain_down);
    up_types.push_back(has_attention(model, levels - 1 - level) ? "AttnUpBlock2D" : plain_up);
    widths.push_back(model.channels * model.channel_mults[static_cast<size_t>(level)]);
  }
  return {{"_class_name", "UNet2DModel"},
          {"_diffusers_version", "0.27.2"},
          {"sample_size", model.image_size},
          {"in_channels", model.image_channels},
          {"out_channels", model.image_channels},
          {"center_input_sample", false},
          {"time_embedding_type", "positional"},
          {"freq_shift", 1},
          {"flip_sin_to_cos", false},
          {"down_block_types", down_types},
          {"up_block_types", up_types},
          {"block_out_channels", widths},
          {"layers_per_block", model.num_res_blocks},
          {"mid_block_scale_factor", 1},
          {"downsample_padding", 1},
          {"downsample_type", resampler},
          {"upsample_type", resampler},
          {"dropout", model.dropout},
          {"act_fn", "silu"},
          {"attention_head_dim", diffusers_attention_head_dim(model)},
          {"norm_num_groups", model.groups},
          // null leaves the mid block's attention without GroupNorm unless resnet_time_scale_shift is "default".
          {"attn_norm_num_groups", model.scale_shift_norm ? Json(model.groups) : Json()},
          {"norm_eps", round_to_significant_digits(model::kGroupNormEps, 6)},
          {"resnet_time_scale_shift", model.scale_shift_norm ? "scale_shift" : "default"},
          {"add_attention", true},
          {"class_embed_type", nullptr},
          {"num_class_embeds", model.num_classes > 0 ? Json(model.num_classes + 1) : Json()}};
}

void check_diffusers_unet_config(const Json& theirs, const ModelConfig& model, const std::string& origin) {
  DIFFUSE_CHECK(theirs.is_object(), origin, " is not a JSON object");
  const Json class_name = theirs.contains("_class_name") ? theirs["_class_name"] : Json("UNet2DModel");
  DIFFUSE_CHECK(class_name.is_string(), origin, ": _class_name is ", class_name.dump(), ", not a class name");
  DIFFUSE_CHECK(class_name == "UNet2DModel", origin, " describes a ", class_name.get<std::string>(),
                ", not a UNet2DModel");
  const Json ours = diffusers_unet_config(model);
  for (const auto& [key, expected] : ours.items()) {
    if (key == "_class_name" || key == "_diffusers_version" || key == "dropout") continue;
    const Json given = theirs.contains(key) ? theirs[key] : diffusers_default(key);
    // diffusers also takes the size as [height, width].
    if (key == "sample_size" && (given.is_null() || given == Json::array({expected, expected}))) continue;
    if (key == "norm_eps") {
      DIFFUSE_CHECK(given.is_number() && std::abs(given.get<double>() - expected.get<double>()) <= 1e-9, origin,
                    ": norm_eps is ", given.dump(), ", the config's model has ", expected.dump());
      continue;
    }
    // With resnet_time_scale_shift "default" null means norm_num_groups.
    if (key == "attn_norm_num_groups" && given == Json(model.groups)) continue;
    if (key == "attention_head_dim" && (given.is_null() || given.is_number_integer())) {
      DIFFUSE_CHECK(given.is_null() || holds_int(given), origin, ": attention_head_dim is ", given.dump(),
                    ", not a head width");
      // diffusers' attention block of C channels has C / attention_head_dim heads (one when null): every block
      // (the mid block's too) must have our heads, whichever of num_heads or num_head_channels says so.
      for (const int width : attention_widths(model)) {
        const int head = given.is_null() ? width : given.get<int>();
        const int heads = head > 0 && width % head == 0 ? width / head : 0;
        DIFFUSE_CHECK(heads == heads_of(model, width), origin, ": attention_head_dim ", given.dump(), " makes ",
                      heads > 0 ? concat(heads, " heads") : std::string("no whole heads"), " in the ", width,
                      "-channel attention blocks; the config's model has ", heads_of(model, width));
      }
      continue;
    }
    DIFFUSE_CHECK(given == expected, origin, ": ", key, " is ", given.dump(), ", the config's model has ",
                  expected.dump());
  }
}

Json diffusers_scheduler_config(const DiffusionConfig& diffusion, std::string& why_not) {
  if (diffusion.formulation != Formulation::kVp) {
    // diffusers' EDM schedulers precondition too, but feed the UNet c_noise itself, not our 250 c_noise + 500.
    const double sd = diffusion.sigma_data;
    why_not = concat(diffusion.formulation == Formulation::kEdm ? "an EDM" : "a consistency",
                     " model needs its preconditioning around the UNet, D(x, sigma) = c_skip x + c_out ",
                     "UNet(c_in x, 250 ln(sigma) / 4 + 500), c_skip = sd^2 / (sigma^2 + sd^2), c_out = sigma sd / ",
                     "sqrt(sigma^2 + sd^2), c_in = 1 / sqrt(sigma^2 + sd^2), sd = sigma_data = ", sd,
                     " (README: Moving models to and from diffusers)");
    return Json();
  }
  if (diffusion.schedule == ScheduleKind::CosineContinuous) {
    why_not = "the cosine_continuous schedule is continuous-time, which DDPMScheduler cannot express";
    return Json();
  }
  const char* prediction = diffusion.prediction == Prediction::Eps ? "epsilon"
                           : diffusion.prediction == Prediction::V ? "v_prediction"
                                                                   : "sample";
  // Our discrete schedules are diffusers' "linear" (1e-4 to 0.02) and "squaredcos_cap_v2" (betas capped at 0.999).
  return {{"_class_name", "DDPMScheduler"},
          {"_diffusers_version", "0.27.2"},
          {"num_train_timesteps", diffusion.timesteps},
          {"beta_start", 0.0001},
          {"beta_end", 0.02},
          {"beta_schedule", diffusion.schedule == ScheduleKind::Linear ? "linear" : "squaredcos_cap_v2"},
          {"prediction_type", prediction},
          {"variance_type", "fixed_small"},
          {"clip_sample", true},
          {"clip_sample_range", 1.0},
          {"timestep_spacing", "leading"},
          {"steps_offset", 0}};
}

void check_diffusers_scheduler_config(const Json& theirs, const Json& ours, const std::string& origin) {
  DIFFUSE_CHECK(theirs.is_object(), origin, " is not a JSON object");
  // DDPMScheduler's defaults; the other keys shape sampling, not what the network learnt.
  const Json defaults = {{"prediction_type", "epsilon"}, {"beta_schedule", "linear"}, {"num_train_timesteps", 1000}};
  for (const auto& [key, fallback] : defaults.items()) {
    const Json given = theirs.contains(key) ? theirs[key] : fallback;
    DIFFUSE_CHECK(given == ours[key], origin, ": ", key, " is ", given.dump(), ", the config's model has ",
                  ours[key].dump());
  }
}

}  // namespace diffuse
