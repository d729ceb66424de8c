// Sampling policy shared by the sample grids of training, `diffuse sample`,
// `diffuse eval` and FID during training: the sampler options from the sample
// section and a command's flags, the classes of the samples, and sampling a
// rank's share of a set of samples keyed by their global index.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/progress.h"
#include "core/tensor.h"
#include "diffusion/diffusion_setup.h"
#include "diffusion/sampler.h"
#include "distributed/rank_share.h"
#include "io/checkpoint.h"
#include "model/unet.h"
#include "run/config.h"

namespace diffuse {

// A command's sampling flags; those not given come from the config.
struct SamplingFlags {
  std::optional<SamplerKind> sampler;
  std::optional<int> steps;
  std::optional<double> eta;
  std::optional<double> guidance;
  std::optional<uint64_t> seed;
};

// The sample section (and the config's seed) with the flags given over it. `model_steps`, when > 0, is a distilled
// student's own step count, which replaces sample.steps unless --steps is given. DDPM is DDIM with eta 1; the
// Karras grid of the ODE samplers is sample.sigma_min, sample.sigma_max and sample.rho, and euler's and heun's churn
// sample.s_churn, s_tmin, s_tmax and s_noise. The consistency sampler walks the model's grid of consistency.levels
// levels (consistency_model_levels), at sample.consistency_sigmas when given.
SamplerOptions sampler_options(const Config& config, const SamplingFlags& flags = {}, int model_steps = 0);

// The levels of a consistency model's grid: a trained one's final curriculum N = consistency.s1 + 1, a distilled
// one's consistency.levels.
int consistency_model_levels(const Config& config);

// The sampler of `diffuse sample` and `diffuse eval`: --sampler when given (`flag`, a SamplerKind name), else
// consistency for consistency models (diffusion.formulation consistency, or a consistency-distilled student, whose
// sample section is its teacher's), ddim for progressive students (sampling_steps > 0) and the checkpoint's
// sample.sampler for the others.
SamplerKind command_sampler(const std::string& flag, const Config& config, const CheckpointMeta& meta);

// The order of the classes over a set of `count` samples of a class-conditional model.
enum class LabelOrder {
  kBlocks,       // grids: count / num_classes (at least 1) of each class in turn, the rest the last class
  kInterleaved,  // evaluation: sample i has class i % num_classes
};

// i32 [end - begin]: the classes of samples [begin, end) of the `count`; undefined when num_classes is 0.
Tensor sample_labels(LabelOrder order, int num_classes, int64_t count, int64_t begin, int64_t end);

// Images [share.end - share.begin, S, S, C] in [-1, 1] of this rank's share of `count` samples with classes in
// `order`, `batch` at a time, with the model's current parameters. Every sample is keyed by its global index, so
// eval::gather_rows reassembles the same set on any number of ranks. `progress` hears the number of this share's
// images done after each batch.
Tensor sample_share(model::UNet& unet, const DiffusionSetup& setup, const SamplerOptions& options, LabelOrder order,
                    int64_t count, const eval::RankShare& share, int64_t batch, const ProgressCallback& progress = {});

// i32 [count]: the classes of `diffuse sample`'s samples, every class in blocks, or `only_class` (its --class)
// for all when given. Throws an Error naming --class and the model's classes unless only_class is one of them.
// Undefined for an unconditional model without --class.
Tensor command_sample_labels(int num_classes, int64_t count, std::optional<int> only_class);

}  // namespace diffuse
