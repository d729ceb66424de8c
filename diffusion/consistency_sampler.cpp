// The consistency sampler (diffusion/consistency.h).
#include <cmath>

#include "core/error.h"
#include "core/on_device.h"
#include "core/ops.h"
#include "core/philox.h"
#include "diffusion/consistency.h"
#include "diffusion/guidance.h"

namespace diffuse {

std::vector<double> consistency_sampling_sigmas(const std::vector<double>& grid, const SamplerOptions& options) {
  const int steps = options.steps, levels = static_cast<int>(grid.size());
  DIFFUSE_CHECK(steps >= 1, "a sampler needs at least one step, got ", steps);
  std::vector<double> sigmas = {grid.back()};
  if (!options.consistency_sigmas.empty()) {
    DIFFUSE_CHECK(static_cast<int>(options.consistency_sigmas.size()) == steps - 1, "--steps ", steps, " needs ",
                  steps - 1, " intermediate levels, but sample.consistency_sigmas lists ",
                  options.consistency_sigmas.size());
    for (double sigma : options.consistency_sigmas) {
      DIFFUSE_CHECK(sigma > grid.front() && sigma < sigmas.back(), "sample.consistency_sigmas: ", sigma,
                    " must be below the level before it (", sigmas.back(), ") and above sigma_min ", grid.front());
      sigmas.push_back(sigma);
    }
    return sigmas;
  }
  DIFFUSE_CHECK(steps <= levels - 1, "--steps ", steps, " is more than the consistency model's grid of ", levels,
                " levels allows (at most ", levels - 1, ")");
  for (int k = 1; k < steps; ++k)
    sigmas.push_back(grid[static_cast<size_t>(std::lround(static_cast<double>(levels - 1) * (steps - k) / steps))]);
  return sigmas;
}

Tensor sample_consistency(const NoiseSchedule& schedule, const Parameterization& network, const Denoiser& denoiser,
                          const Shape& shape, const Tensor& labels, const SamplerOptions& options) {
  DIFFUSE_CHECK(options.consistency_levels >= 2,
                "the consistency sampler needs the model's grid (at least 2 "
                "levels), got ",
                options.consistency_levels);
  const SigmaRange range = sigma_range(options.sigma_min, options.sigma_max, network, schedule);
  const std::vector<double> grid = consistency_sigmas(options.consistency_levels, range.min, range.max, options.rho);
  const std::vector<double> sigmas = consistency_sampling_sigmas(grid, options);

  const Device device = options.device;
  const int64_t count = shape[0];
  const auto map = [&] { return Tensor::empty(shape, DType::F32, device); };
  Tensor x = map(), z = map(), input = map(), out = map(), scratch = map(), noise = map();
  const Tensor device_labels = labels.defined() ? on_device(labels, device) : Tensor();
  const auto scalar = [&](double value) { return per_sample_constant(count, value, device); };

  ops::fill_normal(x, options.seed, kPurposeSampler, 0, options.first_sample);
  ops::scale(x, static_cast<float>(range.max), x);
  for (size_t k = 0; k < sigmas.size(); ++k) {
    if (k > 0) {
      // Back up to tau from the clean estimate: x = f + sqrt(tau^2 - sigma_min^2) z_k.
      ops::fill_normal(noise, options.seed, kPurposeSampler, static_cast<uint32_t>(k), options.first_sample);
      const double added = std::sqrt(sigmas[k] * sigmas[k] - range.min * range.min);
      ops::combine_per_sample(x, scalar(1.0), noise, scalar(added), x);
    }
    // x = f(x, tau) = a x + b o, o the (guided) network output at the level whose VE sigma is tau.
    const NoiseLevel level = schedule.at_ve_sigma(sigmas[k]);
    ops::scale(x, static_cast<float>(level.alpha), z);
    guided_output(denoiser, network_input(network, level, z, input), scalar(network_time(network, level)),
                  device_labels, options, out, scratch);
    const Mix f = consistency_output(network, level, range.min);
    ops::combine_per_sample(x, scalar(f.first), out, scalar(f.second), x);
    ops::clamp(x, -1.0f, 1.0f, x);
  }
  return x;
}

}  // namespace diffuse
