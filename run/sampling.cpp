#include "run/sampling.h"

#include <algorithm>

#include "core/error.h"
#include "run/model_setup.h"

namespace diffuse {

SamplerOptions sampler_options(const Config& config, const SamplingFlags& flags, int model_steps) {
  const SampleConfig& sample = config.sample;
  SamplerOptions options;
  options.sampler = flags.sampler.value_or(sample.sampler);
  options.steps = flags.steps.value_or(model_steps > 0 ? model_steps : sample.steps);
  // eta is DDIM's: DDPM is eta 1, and the ODE samplers are deterministic (a sample.eta meant for ddim stays there).
  const bool ode = options.sampler != SamplerKind::kDdim && options.sampler != SamplerKind::kDdpm;
  DIFFUSE_CHECK(!ode || flags.eta.value_or(0.0) == 0.0, "--eta ", *flags.eta,
                " applies to --sampler ddim only, not to ", name_of(kSamplerNames, options.sampler),
                ": drop --eta, or sample with --sampler ddim");
  options.eta = options.sampler == SamplerKind::kDdpm ? 1.0 : ode ? 0.0 : flags.eta.value_or(sample.eta);
  options.guidance = flags.guidance.value_or(sample.guidance);
  options.seed = flags.seed.value_or(config.seed);
  options.sigma_min = sample.sigma_min;
  options.sigma_max = sample.sigma_max;
  options.rho = sample.rho;
  // Churn is euler's and heun's (a sample.s_churn meant for them stays there when another sampler is asked for).
  options.s_churn = takes_churn(options.sampler) ? sample.s_churn : 0.0;
  options.s_tmin = sample.s_tmin;
  options.s_tmax = sample.s_tmax;
  options.s_noise = sample.s_noise;
  options.consistency_levels = consistency_model_levels(config);
  options.consistency_sigmas = sample.consistency_sigmas;
  return options;
}

int consistency_model_levels(const Config& config) {
  return config.diffusion.formulation == Formulation::kConsistency ? config.consistency.s1 + 1
                                                                   : config.consistency.levels;
}

SamplerKind command_sampler(const std::string& flag, const Config& config, const CheckpointMeta& meta) {
  if (!flag.empty()) return value_named(kSamplerNames, flag, "--sampler");
  const bool consistency_model = config.diffusion.formulation == Formulation::kConsistency ||
                                 meta.method == name_of(kDistillMethodNames, DistillMethod::kConsistency);
  if (consistency_model) return SamplerKind::kConsistency;
  // A progressive student learned DDIM steps, whatever its teacher's sample section says.
  return meta.sampling_steps > 0 ? SamplerKind::kDdim : config.sample.sampler;
}

Tensor sample_labels(LabelOrder order, int num_classes, int64_t count, int64_t begin, int64_t end) {
  if (num_classes <= 0) return Tensor();
  const int64_t per_class = std::max<int64_t>(1, count / num_classes);
  Tensor labels = Tensor::empty({end - begin}, DType::I32);
  for (int64_t i = begin; i < end; ++i)
    labels.i32()[i - begin] = static_cast<int32_t>(
        order == LabelOrder::kInterleaved ? i % num_classes : std::min<int64_t>(i / per_class, num_classes - 1));
  return labels;
}

Tensor sample_share(model::UNet& unet, const DiffusionSetup& setup, const SamplerOptions& options, LabelOrder order,
                    int64_t count, const eval::RankShare& share, int64_t batch, const ProgressCallback& progress) {
  SamplerOptions from_begin = options;
  from_begin.first_sample = static_cast<uint32_t>(share.begin);
  return sample_with_model(unet, unet.spec(), setup, from_begin,
                           sample_labels(order, unet.spec().num_classes, count, share.begin, share.end),
                           share.end - share.begin, batch, progress);
}

Tensor command_sample_labels(int num_classes, int64_t count, std::optional<int> only_class) {
  Tensor labels = sample_labels(LabelOrder::kBlocks, num_classes, count, 0, count);
  if (!only_class) return labels;
  DIFFUSE_CHECK(num_classes > 0, "--class ", *only_class, ": the model is not class-conditional");
  DIFFUSE_CHECK(*only_class >= 0 && *only_class < num_classes, "--class ", *only_class,
                " is not a class of the model: its classes are 0 to ", num_classes - 1);
  for (int64_t i = 0; i < count; ++i) labels.i32()[i] = *only_class;
  return labels;
}

}  // namespace diffuse
