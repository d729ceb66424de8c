#include "run/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "core/error.h"
#include "diffusion/distillation.h"

namespace diffuse {

namespace {

enum class Kind { Int, Int64, UInt64, Double, Bool, String, Choice, IntList, DoubleList };

// An enumerated key's enum, set and read through the names it accepts.
struct Choice {
  std::function<void(const std::string& name, const std::string& setting)> parse;  // an Error naming `setting`
  std::function<const char*()> name;
};

// One configuration key: its dotted name, type and where it lives.
struct Field {
  Field(std::string key, Kind kind, void* target) : key(std::move(key)), kind(kind), target(target) {}
  Field(std::string key, Choice choice)
      : key(std::move(key)), kind(Kind::Choice), target(nullptr), choice(std::move(choice)) {}

  std::string key;
  Kind kind;
  void* target;  // every kind but Choice
  Choice choice;
  // A Choice's last name from the file or --set, parsed once every override is in: a --set can correct the
  // file, and an error names the file with its overrides, as validate() does.
  std::optional<std::string> given_name;
};

// An enumerated key accepting the values in `names` (its enum's table, or part of it: core/enum_names.h).
template <typename Names>
Field choice(std::string key, NamedEnum<Names>* target, const Names& names) {
  const std::vector<EnumName<NamedEnum<Names>>> accepted(std::begin(names), std::end(names));
  return Field(std::move(key), Choice{[target, accepted](const std::string& name, const std::string& setting) {
                                        *target = value_named(accepted, name, setting);
                                      },
                                      [target, accepted] { return name_of(accepted, *target); }});
}

std::vector<Field> schema(Config& c) {
  return {
      {"seed", Kind::UInt64, &c.seed},
      {"data.train", Kind::String, &c.data.train},
      {"data.test", Kind::String, &c.data.test},
      {"data.flip", Kind::Bool, &c.data.flip},
      {"data.prefetch", Kind::Int, &c.data.prefetch},
      {"model.image_size", Kind::Int, &c.model.image_size},
      {"model.image_channels", Kind::Int, &c.model.image_channels},
      {"model.channels", Kind::Int, &c.model.channels},
      {"model.channel_mults", Kind::IntList, &c.model.channel_mults},
      {"model.num_res_blocks", Kind::Int, &c.model.num_res_blocks},
      {"model.attention_resolutions", Kind::IntList, &c.model.attention_resolutions},
      {"model.dropout", Kind::Double, &c.model.dropout},
      {"model.num_classes", Kind::Int, &c.model.num_classes},
      {"model.groups", Kind::Int, &c.model.groups},
      {"model.scale_shift_norm", Kind::Bool, &c.model.scale_shift_norm},
      {"model.num_heads", Kind::Int, &c.model.num_heads},
      {"model.num_head_channels", Kind::Int, &c.model.num_head_channels},
      {"model.resblock_updown", Kind::Bool, &c.model.resblock_updown},
      choice("diffusion.schedule", &c.diffusion.schedule, kScheduleNames),
      {"diffusion.timesteps", Kind::Int, &c.diffusion.timesteps},
      choice("diffusion.prediction", &c.diffusion.prediction, kPredictionNames),
      choice("diffusion.loss_weight", &c.diffusion.loss_weight, kLossWeightingNames),
      {"diffusion.min_snr_gamma", Kind::Double, &c.diffusion.min_snr_gamma},
      {"diffusion.class_dropout", Kind::Double, &c.diffusion.class_dropout},
      choice("diffusion.formulation", &c.diffusion.formulation, kFormulationNames),
      {"diffusion.sigma_data", Kind::Double, &c.diffusion.sigma_data},
      {"diffusion.p_mean", Kind::Double, &c.diffusion.p_mean},
      {"diffusion.p_std", Kind::Double, &c.diffusion.p_std},
      {"train.steps", Kind::Int64, &c.train.steps},
      {"train.batch_size", Kind::Int, &c.train.batch_size},
      {"train.accumulation", Kind::Int, &c.train.accumulation},
      {"train.lr", Kind::Double, &c.train.lr},
      {"train.warmup_steps", Kind::Int64, &c.train.warmup_steps},
      choice("train.lr_decay", &c.train.lr_decay, kLrDecayNames),
      {"train.weight_decay", Kind::Double, &c.train.weight_decay},
      {"train.beta1", Kind::Double, &c.train.beta1},
      {"train.beta2", Kind::Double, &c.train.beta2},
      {"train.adam_eps", Kind::Double, &c.train.adam_eps},
      {"train.grad_clip", Kind::Double, &c.train.grad_clip},
      {"train.ema_rates", Kind::DoubleList, &c.train.ema_rates},
      choice("train.precision", &c.train.precision, kPrecisionNames),
      {"train.log_every", Kind::Int64, &c.train.log_every},
      {"train.sample_every", Kind::Int64, &c.train.sample_every},
      {"train.eval_every", Kind::Int64, &c.train.eval_every},
      {"train.checkpoint_every", Kind::Int64, &c.train.checkpoint_every},
      {"train.keep_checkpoints", Kind::Int, &c.train.keep_checkpoints},
      {"train.max_consecutive_skips", Kind::Int, &c.train.max_consecutive_skips},
      {"train.bucket_mb", Kind::Double, &c.train.bucket_mb},
      choice("train.reduce_dtype", &c.train.reduce_dtype, kReduceDTypeNames),
      {"train.shard_optimizer", Kind::Bool, &c.train.shard_optimizer},
      choice("sample.sampler", &c.sample.sampler, kSamplerNames),
      {"sample.steps", Kind::Int, &c.sample.steps},
      {"sample.eta", Kind::Double, &c.sample.eta},
      {"sample.sigma_min", Kind::Double, &c.sample.sigma_min},
      {"sample.sigma_max", Kind::Double, &c.sample.sigma_max},
      {"sample.rho", Kind::Double, &c.sample.rho},
      {"sample.s_churn", Kind::Double, &c.sample.s_churn},
      {"sample.s_tmin", Kind::Double, &c.sample.s_tmin},
      {"sample.s_tmax", Kind::Double, &c.sample.s_tmax},
      {"sample.s_noise", Kind::Double, &c.sample.s_noise},
      {"sample.consistency_sigmas", Kind::DoubleList, &c.sample.consistency_sigmas},
      {"sample.guidance", Kind::Double, &c.sample.guidance},
      {"sample.per_class", Kind::Int, &c.sample.per_class},
      {"sample.count", Kind::Int, &c.sample.count},
      {"eval.features", Kind::String, &c.eval.features},
      {"eval.samples", Kind::Int64, &c.eval.samples},
      choice("distill.method", &c.distill.method, kDistillMethodNames),
      {"distill.from_steps", Kind::Int, &c.distill.from_steps},
      {"distill.to_steps", Kind::Int, &c.distill.to_steps},
      {"distill.steps_per_stage", Kind::Int64, &c.distill.steps_per_stage},
      {"distill.lr", Kind::Double, &c.distill.lr},
      // The SNR weight alone ("simple") would ignore the student's error at high noise, where its few steps start.
      choice("distill.loss_weight", &c.distill.loss_weight,
             named_subset(kLossWeightingNames, {LossWeighting::SnrTruncated, LossWeighting::SnrPlusOne})),
      {"consistency.levels", Kind::Int, &c.consistency.levels},
      {"consistency.target_ema", Kind::Double, &c.consistency.target_ema},
      {"consistency.huber_c", Kind::Double, &c.consistency.huber_c},
      {"consistency.s0", Kind::Int, &c.consistency.s0},
      {"consistency.s1", Kind::Int, &c.consistency.s1},
      {"consistency.p_mean", Kind::Double, &c.consistency.p_mean},
      {"consistency.p_std", Kind::Double, &c.consistency.p_std},
      choice("runtime.device", &c.runtime.device, kDeviceRequestNames),
      {"runtime.threads", Kind::Int, &c.runtime.threads},
      {"runtime.collective_timeout_s", Kind::Double, &c.runtime.collective_timeout_s},
  };
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::Int:
    case Kind::Int64:
    case Kind::UInt64:
      return "an integer";
    case Kind::Double:
      return "a number";
    case Kind::Bool:
      return "true or false";
    case Kind::String:
    case Kind::Choice:
      return "a string";
    case Kind::IntList:
      return "a list of integers";
    case Kind::DoubleList:
      return "a list of numbers";
  }
  return "?";
}

// Every number-valued key's value passes here: YAML's .inf and .nan are numbers to the parser but no setting, and
// comparisons against them pass range checks that they should fail.
double finite_number(const Field& field, const YAML::Node& node, const std::string& origin) {
  const double value = node.as<double>();
  if (!std::isfinite(value))
    throw Error(
        concat("config key '", field.key, "' in ", origin, ": expected a finite number, got '", node.Scalar(), "'"));
  return value;
}

void assign(Field& field, const YAML::Node& node, const std::string& origin) {
  try {
    switch (field.kind) {
      case Kind::Int:
        *static_cast<int*>(field.target) = node.as<int>();
        break;
      case Kind::Int64:
        *static_cast<int64_t*>(field.target) = node.as<int64_t>();
        break;
      case Kind::UInt64:
        *static_cast<uint64_t*>(field.target) = node.as<uint64_t>();
        break;
      case Kind::Double:
        *static_cast<double*>(field.target) = finite_number(field, node, origin);
        break;
      case Kind::Bool:
        *static_cast<bool*>(field.target) = node.as<bool>();
        break;
      case Kind::String:
        if (!node.IsScalar()) throw YAML::Exception(YAML::Mark(), "not a scalar");
        *static_cast<std::string*>(field.target) = node.as<std::string>();
        break;
      case Kind::Choice:
        if (!node.IsScalar()) throw YAML::Exception(YAML::Mark(), "not a scalar");
        field.given_name = node.as<std::string>();
        break;
      case Kind::IntList:
        if (!node.IsSequence()) throw YAML::Exception(YAML::Mark(), "not a list");
        *static_cast<std::vector<int>*>(field.target) = node.as<std::vector<int>>();
        break;
      case Kind::DoubleList: {
        if (!node.IsSequence()) throw YAML::Exception(YAML::Mark(), "not a list");
        std::vector<double> values;
        for (const YAML::Node& element : node) values.push_back(finite_number(field, element, origin));
        *static_cast<std::vector<double>*>(field.target) = values;
        break;
      }
    }
  } catch (const YAML::Exception&) {
    std::ostringstream text;
    text << node;
    throw Error(concat("config key '", field.key, "' in ", origin, ": expected ", kind_name(field.kind), ", got '",
                       text.str(), "'"));
  }
}

Field* find_field(std::vector<Field>& fields, const std::string& key) {
  for (Field& field : fields)
    if (field.key == key) return &field;
  return nullptr;
}

// Walks a YAML mapping, assigning leaves to fields and rejecting unknown and repeated keys (yaml-cpp keeps both
// entries of a repeated key, and the later one would silently win).
void apply_node(std::vector<Field>& fields, const YAML::Node& node, const std::string& prefix,
                const std::string& origin) {
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const std::string key =
        prefix.empty() ? entry.first.as<std::string>() : prefix + "." + entry.first.as<std::string>();
    if (!seen.insert(key).second) throw Error(concat("config key '", key, "' appears twice in ", origin));
    if (Field* field = find_field(fields, key)) {
      assign(*field, entry.second, origin);
      continue;
    }
    const bool is_section =
        std::any_of(fields.begin(), fields.end(), [&](const Field& f) { return f.key.rfind(key + ".", 0) == 0; });
    if (is_section && entry.second.IsMap()) {
      apply_node(fields, entry.second, key, origin);
    } else if (is_section) {
      throw Error(concat("config key '", key, "' in ", origin, " is a section and must be a mapping"));
    } else {
      throw Error(concat("unknown config key '", key, "' in ", origin));
    }
  }
}

void apply_override(std::vector<Field>& fields, const std::string& assignment) {
  const size_t equals = assignment.find('=');
  DIFFUSE_CHECK(equals != std::string::npos && equals > 0, "--set '", assignment, "' is not of the form key.sub=value");
  const std::string key = assignment.substr(0, equals), value = assignment.substr(equals + 1);
  Field* field = find_field(fields, key);
  DIFFUSE_CHECK(field != nullptr, "unknown config key '", key, "' in --set");
  YAML::Node node;
  try {
    node = YAML::Load(value);
  } catch (const YAML::Exception& error) {
    throw Error(concat("config key '", key, "' in --set: cannot parse '", value, "' (", error.msg, ")"));
  }
  if ((field->kind == Kind::String || field->kind == Kind::Choice) && node.IsNull()) node = YAML::Node(std::string());
  assign(*field, node, "--set");
}

// Each enumerated key given a name becomes its enum; `origin` as validate() names it.
void parse_choices(const std::vector<Field>& fields, const std::string& origin) {
  for (const Field& field : fields)
    if (field.given_name) field.choice.parse(*field.given_name, concat("config key '", field.key, "' in ", origin));
}

// The discrete schedules tabulate every timestep: published models use 1000 to 4000, a million takes 8 MB, and a
// count in the billions only exhausts memory.
constexpr int kMaxTimesteps = 1000000;
// runtime.threads starts that many OpenMP threads, each with its own stack: the largest machines have a few hundred
// hardware threads, and tens of thousands crash the OpenMP runtime.
constexpr int kMaxThreads = 1024;

void require(bool condition, const std::string& key, const std::string& problem, const std::string& origin) {
  if (!condition) throw Error(concat("config key '", key, "' in ", origin, ": ", problem));
}

// Every attention block (the listed resolutions and the middle, at the last level) splits its channels into heads.
void validate_attention_heads(const ModelConfig& m, const std::string& origin) {
  require(m.num_heads >= 1, "model.num_heads", "must be positive", origin);
  require(m.num_head_channels >= 0, "model.num_head_channels", "must be >= 0 (0 = use model.num_heads)", origin);
  require(m.num_heads == 1 || m.num_head_channels == 0, "model.num_heads",
          "and model.num_head_channels are exclusive: set model.num_heads to 1 or model.num_head_channels to 0",
          origin);
  const int levels = static_cast<int>(m.channel_mults.size());
  for (int level = 0; level < levels; ++level) {
    const int resolution = m.image_size >> level, channels = m.channels * m.channel_mults[level];
    const auto& listed = m.attention_resolutions;
    if (level != levels - 1 && std::find(listed.begin(), listed.end(), resolution) == listed.end()) continue;
    if (m.num_head_channels > 0) {
      require(channels % m.num_head_channels == 0, "model.num_head_channels",
              concat(m.num_head_channels, " does not divide the ", channels, " channels at resolution ", resolution),
              origin);
    } else {
      require(channels % m.num_heads == 0, "model.num_heads",
              concat(m.num_heads, " does not divide the ", channels, " channels at resolution ", resolution), origin);
    }
  }
}

// EDM brings its own noise levels, network output and loss weight: the VP keys that choose them are refused
// rather than silently ignored. The schedule stays, as the continuous time grid that ddim and distillation walk.
void validate_formulation(const DiffusionConfig& d, const std::string& origin) {
  require(d.sigma_data > 0, "diffusion.sigma_data", "must be positive", origin);
  require(d.p_std > 0, "diffusion.p_std", "must be positive", origin);
  if (d.formulation == Formulation::kVp) return;
  const DiffusionConfig vp;
  const std::string unused =
      concat("does not apply to diffusion.formulation ", name_of(kFormulationNames, d.formulation), ", ");
  require(d.schedule == vp.schedule, "diffusion.schedule",
          unused + "whose noise levels are log-normal (diffusion.p_mean, diffusion.p_std): remove it", origin);
  require(d.prediction == vp.prediction, "diffusion.prediction",
          unused + "whose network output is its preconditioned F: remove it", origin);
  require(d.loss_weight == vp.loss_weight, "diffusion.loss_weight",
          unused + "which weights the loss by its own lambda(sigma): remove it", origin);
}

void validate(const Config& c, const std::string& origin) {
  const ModelConfig& m = c.model;
  require(m.image_size > 0 && (m.image_size & (m.image_size - 1)) == 0, "model.image_size", "must be a power of two",
          origin);
  require(m.image_channels > 0, "model.image_channels", "must be positive", origin);
  require(m.channels > 0, "model.channels", "must be positive", origin);
  require(!m.channel_mults.empty(), "model.channel_mults", "must list at least one level", origin);
  for (int mult : m.channel_mults) require(mult > 0, "model.channel_mults", "entries must be positive", origin);
  require(m.image_size >> (m.channel_mults.size() - 1) >= 1, "model.channel_mults",
          "too many levels for the image size", origin);
  require(m.num_res_blocks > 0, "model.num_res_blocks", "must be positive", origin);
  require(m.dropout >= 0 && m.dropout < 1, "model.dropout", "must be in [0, 1)", origin);
  require(m.num_classes >= 0, "model.num_classes", "must be >= 0", origin);
  require(m.groups > 0, "model.groups", "must be positive", origin);
  for (int mult : m.channel_mults)
    require((m.channels * mult) % m.groups == 0, "model.groups", "must divide every level's channel count", origin);
  validate_attention_heads(m, origin);
  require(c.diffusion.timesteps >= 2 && c.diffusion.timesteps <= kMaxTimesteps, "diffusion.timesteps",
          concat("must be in [2, ", kMaxTimesteps, "]"), origin);
  require(c.diffusion.min_snr_gamma > 0, "diffusion.min_snr_gamma", "must be positive", origin);
  require(
      c.diffusion.min_snr_gamma == kDefaultMinSnrGamma || c.diffusion.loss_weight == LossWeighting::MinSnr,
      "diffusion.min_snr_gamma",
      concat("applies to diffusion.loss_weight min_snr only, not to ",
             name_of(kLossWeightingNames, c.diffusion.loss_weight), ": drop it, or set diffusion.loss_weight min_snr"),
      origin);
  require(c.diffusion.class_dropout >= 0 && c.diffusion.class_dropout < 1, "diffusion.class_dropout",
          "must be in [0, 1)", origin);
  validate_formulation(c.diffusion, origin);
  const TrainConfig& t = c.train;
  require(t.steps >= 0, "train.steps", "must be >= 0", origin);
  require(t.batch_size > 0, "train.batch_size", "must be positive", origin);
  require(t.accumulation > 0 && t.batch_size % t.accumulation == 0, "train.accumulation",
          "must be positive and divide train.batch_size", origin);
  require(t.lr > 0, "train.lr", "must be positive", origin);
  require(t.warmup_steps >= 0, "train.warmup_steps", "must be >= 0", origin);
  require(t.beta1 >= 0 && t.beta1 < 1, "train.beta1", "must be in [0, 1)", origin);
  require(t.beta2 >= 0 && t.beta2 < 1, "train.beta2", "must be in [0, 1)", origin);
  require(t.adam_eps > 0, "train.adam_eps", "must be positive", origin);
  require(t.grad_clip >= 0, "train.grad_clip", "must be >= 0", origin);
  for (double rate : t.ema_rates) require(rate > 0 && rate < 1, "train.ema_rates", "rates must be in (0, 1)", origin);
  // Each rate names its EMA weights in checkpoints (17 significant digits: distinct rates, distinct names).
  for (auto rate = t.ema_rates.begin(); rate != t.ema_rates.end(); ++rate)
    require(std::find(t.ema_rates.begin(), rate, *rate) == rate, "train.ema_rates",
            concat("rate ", *rate, " is listed twice"), origin);
  require(t.log_every > 0, "train.log_every", "must be positive", origin);
  require(t.sample_every >= 0, "train.sample_every", "must be >= 0", origin);
  require(t.eval_every >= 0, "train.eval_every", "must be >= 0", origin);
  require(t.eval_every == 0 || !c.eval.features.empty(), "eval.features",
          "must name a feature network file when train.eval_every is set", origin);
  require(t.eval_every == 0 || !c.data.test.empty(), "data.test",
          "must name the reference dataset when train.eval_every is set", origin);
  require(t.checkpoint_every > 0, "train.checkpoint_every", "must be positive", origin);
  require(t.keep_checkpoints > 0, "train.keep_checkpoints", "must be positive", origin);
  require(t.max_consecutive_skips > 0, "train.max_consecutive_skips", "must be positive", origin);
  require(t.bucket_mb > 0, "train.bucket_mb", "must be positive", origin);
  require(c.sample.steps > 0, "sample.steps", "must be positive", origin);
  require(c.sample.eta >= 0, "sample.eta", "must be >= 0", origin);
  require(c.sample.eta == 0 || c.sample.sampler == SamplerKind::kDdim || c.sample.sampler == SamplerKind::kDdpm,
          "sample.eta", "applies to sample.sampler ddim only: set it to 0 for the ODE samplers", origin);
  require(c.sample.sigma_min >= 0, "sample.sigma_min", "must be positive, or 0 for the schedule's smallest", origin);
  require(c.sample.sigma_max >= 0, "sample.sigma_max", "must be positive, or 0 for the schedule's largest", origin);
  require(c.sample.rho > 0, "sample.rho", "must be positive", origin);
  if (c.sample.sigma_min > 0 || c.sample.sigma_max > 0) {
    const NoiseSchedule schedule(c.diffusion.schedule, c.diffusion.timesteps);
    const Parameterization network = c.diffusion.formulation != Formulation::kVp
                                         ? Parameterization::edm(EdmPreconditioning{})
                                         : Parameterization(c.diffusion.prediction);
    const SigmaRange range = sigma_range(c.sample.sigma_min, c.sample.sigma_max, network, schedule);
    require(range.min < range.max, "sample.sigma_min",
            concat("must be below sample.sigma_max (", range.min, " >= ", range.max, ")"), origin);
  }
  require(c.sample.s_churn >= 0, "sample.s_churn", "must be >= 0 (0 = deterministic)", origin);
  require(c.sample.s_churn == 0 || takes_churn(c.sample.sampler), "sample.s_churn",
          concat("applies to sample.sampler euler and heun only, not to ", name_of(kSamplerNames, c.sample.sampler),
                 ": set it to 0, or sample with euler or heun"),
          origin);
  require(c.sample.s_tmin >= 0, "sample.s_tmin", "must be >= 0", origin);
  require(c.sample.s_tmin <= c.sample.s_tmax, "sample.s_tmin",
          concat("must not be above sample.s_tmax (", c.sample.s_tmin, " > ", c.sample.s_tmax, ")"), origin);
  require(c.sample.s_noise > 0, "sample.s_noise", "must be positive", origin);
  for (auto sigma = c.sample.consistency_sigmas.begin(); sigma != c.sample.consistency_sigmas.end(); ++sigma)
    require(*sigma > 0 && (sigma == c.sample.consistency_sigmas.begin() || *sigma < *(sigma - 1)),
            "sample.consistency_sigmas", concat("must be positive and decreasing, got ", *sigma), origin);
  require(c.sample.per_class > 0, "sample.per_class", "must be positive", origin);
  require(c.sample.count > 0, "sample.count", "must be positive", origin);
  const DistillConfig& d = c.distill;
  require(d.to_steps >= 1, "distill.to_steps", "must be positive", origin);
  require(halves_to(d.from_steps, d.to_steps), "distill.from_steps",
          "must be distill.to_steps times a power of two (2, 4, 8, ...)", origin);
  require(d.steps_per_stage > 0, "distill.steps_per_stage", "must be positive", origin);
  require(d.lr > 0, "distill.lr", "must be positive", origin);
  const ConsistencyConfig& cm = c.consistency;
  require(cm.levels >= 2, "consistency.levels", concat("must be at least 2, got ", cm.levels), origin);
  require(cm.target_ema >= 0 && cm.target_ema < 1, "consistency.target_ema",
          concat("must be in [0, 1), got ", cm.target_ema), origin);
  require(cm.huber_c > 0, "consistency.huber_c", concat("must be positive, got ", cm.huber_c), origin);
  require(cm.s0 >= 1, "consistency.s0", concat("must be positive, got ", cm.s0), origin);
  require(cm.s1 >= cm.s0, "consistency.s1", concat("must be at least consistency.s0 (", cm.s0, "), got ", cm.s1),
          origin);
  require(cm.p_std > 0, "consistency.p_std", concat("must be positive, got ", cm.p_std), origin);
  if (c.sample.sampler == SamplerKind::kConsistency && c.diffusion.formulation == Formulation::kConsistency) {
    // Consistency training's sample grids walk its final curriculum grid (run/sampling.h).
    const int levels = cm.s1 + 1;
    require(c.sample.steps < levels, "sample.steps",
            concat("is ", c.sample.steps, ", more than the consistency model's grid of ", levels,
                   " levels allows (at most ", levels - 1, ")"),
            origin);
    require(c.sample.consistency_sigmas.empty() ||
                static_cast<int>(c.sample.consistency_sigmas.size()) == c.sample.steps - 1,
            "sample.consistency_sigmas",
            concat("lists ", c.sample.consistency_sigmas.size(), " levels for ", c.sample.steps,
                   " steps: give sample.steps - 1"),
            origin);
  }
  require(c.eval.samples > 1, "eval.samples", "must be at least 2", origin);
  require(c.runtime.threads >= 0 && c.runtime.threads <= kMaxThreads, "runtime.threads",
          concat("must be in [0, ", kMaxThreads, "]"), origin);
  require(c.runtime.collective_timeout_s > 0, "runtime.collective_timeout_s", "must be positive", origin);
}

YAML::Node parse_yaml(const std::string& yaml_text, const std::string& origin) {
  try {
    return YAML::Load(yaml_text);
  } catch (const YAML::Exception& error) {
    throw Error(concat("cannot parse ", origin, ": ", error.what()));
  }
}

bool has_settings(const YAML::Node& root) {
  return root.IsDefined() && !root.IsNull() && !(root.IsMap() && root.size() == 0);
}

Config configure(const YAML::Node& root, const std::string& origin, const std::vector<std::string>& overrides) {
  Config config;
  std::vector<Field> fields = schema(config);
  if (has_settings(root)) {
    if (!root.IsMap()) throw Error(concat(origin, " must be a YAML mapping of config sections"));
    apply_node(fields, root, "", origin);
  }
  for (const std::string& assignment : overrides) apply_override(fields, assignment);
  const std::string checked_origin = overrides.empty() ? origin : origin + " with --set overrides";
  parse_choices(fields, checked_origin);
  validate(config, checked_origin);
  return config;
}

// A relative path means the current directory's; stored absolute, it means the same to a run resumed elsewhere.
void make_absolute(std::string& path) {
  if (!path.empty()) path = std::filesystem::absolute(path).string();
}

}  // namespace

Config parse_config(const std::string& yaml_text, const std::string& origin,
                    const std::vector<std::string>& overrides) {
  return configure(parse_yaml(yaml_text, origin), origin, overrides);
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  // An ifstream opens a directory and reads nothing from it, which would mean the defaults.
  std::error_code unreadable;  // reported below as a file that cannot be read
  DIFFUSE_CHECK(!std::filesystem::is_directory(path, unreadable), "config file ", path, " is a directory");
  std::ifstream file(path);
  DIFFUSE_CHECK(file.good(), "cannot read config file ", path);
  std::stringstream text;
  text << file.rdbuf();
  const YAML::Node root = parse_yaml(text.str(), path);
  DIFFUSE_CHECK(has_settings(root), "config file ", path, " has no settings");
  Config config = configure(root, path, overrides);
  make_absolute(config.data.train);
  make_absolute(config.data.test);
  make_absolute(config.eval.features);
  return config;
}

namespace {

// A key's value as YAML: what config_to_yaml() writes and config_differences() compares.
void emit_value(YAML::Emitter& out, const Field& field) {
  switch (field.kind) {
    case Kind::Int:
      out << *static_cast<int*>(field.target);
      break;
    case Kind::Int64:
      out << *static_cast<int64_t*>(field.target);
      break;
    case Kind::UInt64:
      out << *static_cast<uint64_t*>(field.target);
      break;
    case Kind::Double:
      out << *static_cast<double*>(field.target);
      break;
    case Kind::Bool:
      out << *static_cast<bool*>(field.target);
      break;
    case Kind::String:
      out << YAML::DoubleQuoted << *static_cast<std::string*>(field.target);
      break;
    case Kind::Choice:
      out << YAML::DoubleQuoted << field.choice.name();
      break;
    case Kind::IntList:
      out << YAML::Flow << *static_cast<std::vector<int>*>(field.target);
      break;
    case Kind::DoubleList:
      out << YAML::Flow << *static_cast<std::vector<double>*>(field.target);
      break;
  }
}

}  // namespace

std::string config_to_yaml(const Config& config) {
  Config copy = config;
  const std::vector<Field> fields = schema(copy);
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string open_section;
  for (const Field& field : fields) {
    const size_t dot = field.key.find('.');
    const std::string section = dot == std::string::npos ? "" : field.key.substr(0, dot);
    const std::string name = dot == std::string::npos ? field.key : field.key.substr(dot + 1);
    if (section != open_section) {
      if (!open_section.empty()) out << YAML::EndMap;
      if (!section.empty()) out << YAML::Key << section << YAML::Value << YAML::BeginMap;
      open_section = section;
    }
    out << YAML::Key << name << YAML::Value;
    emit_value(out, field);
  }
  if (!open_section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> config_differences(const Config& before, const Config& after) {
  // Compared with every digit; shown with 15, which print 2.0e-4 as 0.0002 rather than 0.00020000000000000001.
  const auto text = [](const Field& field, int digits) {
    YAML::Emitter out;
    out.SetDoublePrecision(digits);
    emit_value(out, field);
    return std::string(out.c_str());
  };
  Config before_copy = before, after_copy = after;
  const std::vector<Field> before_fields = schema(before_copy), after_fields = schema(after_copy);
  std::vector<std::string> differences;
  for (size_t i = 0; i < before_fields.size(); ++i) {
    if (text(before_fields[i], 17) != text(after_fields[i], 17))
      differences.push_back(
          concat(before_fields[i].key, " ", text(before_fields[i], 15), " -> ", text(after_fields[i], 15)));
  }
  return differences;
}

}  // namespace diffuse
