#include "diffusion/sampler.h"

#include <cmath>

#include "core/on_device.h"
#include "core/ops.h"
#include "core/philox.h"
#include "diffusion/consistency.h"
#include "diffusion/guidance.h"
#include "diffusion/ode_sampler.h"

namespace diffuse {

int network_evaluations(SamplerKind sampler, int steps) {
  return sampler == SamplerKind::kHeun ? 2 * steps - 1 : steps;
}

bool takes_churn(SamplerKind sampler) { return sampler == SamplerKind::kEuler || sampler == SamplerKind::kHeun; }

Tensor sample_images(const NoiseSchedule& schedule, const Parameterization& network, const Denoiser& denoiser,
                     const Shape& shape, const Tensor& labels, const SamplerOptions& options) {
  DIFFUSE_CHECK(shape.size() == 4, "sample_images: shape must be [N,H,W,C], got ", shape_string(shape));
  DIFFUSE_CHECK(options.s_churn == 0.0 || takes_churn(options.sampler), "churn (s_churn ", options.s_churn,
                ") applies to the euler and heun samplers only, not to ", name_of(kSamplerNames, options.sampler));
  if (options.sampler == SamplerKind::kConsistency)
    return sample_consistency(schedule, network, denoiser, shape, labels, options);
  if (options.sampler != SamplerKind::kDdpm && options.sampler != SamplerKind::kDdim)
    return sample_ode(schedule, network, denoiser, shape, labels, options);
  DIFFUSE_CHECK(options.eta >= 0.0, "sampler eta must be >= 0, got ", options.eta);
  const int64_t count = shape[0];
  const std::vector<NoiseLevel> path = schedule.sampling_path(options.steps);

  const Device device = options.device;
  const auto map = [&] { return Tensor::empty(shape, DType::F32, device); };
  Tensor z = map(), out = map(), scratch = map(), x0 = map(), eps = map(), noise = map(), input = map();
  const Tensor device_labels = labels.defined() ? on_device(labels, device) : Tensor();
  ops::fill_normal(z, options.seed, kPurposeSampler, 0, options.first_sample);
  const auto per_sample = [&](double value) { return per_sample_constant(count, value, device); };

  for (size_t k = 0; k + 1 < path.size(); ++k) {
    const NoiseLevel& now = path[k];
    const NoiseLevel& next = path[k + 1];
    guided_output(denoiser, network_input(network, now, z, input), per_sample(network_time(network, now)),
                  device_labels, options, out, scratch);

    // x_hat clipped to the data range, then eps re-derived from it so the step stays consistent.
    const Mix x_mix = x0_from_network(network, now);
    ops::combine_per_sample(z, per_sample(x_mix.first), out, per_sample(x_mix.second), x0);
    ops::clamp(x0, -1.0f, 1.0f, x0);
    if (next.sigma == 0.0) {
      z = x0;
      break;
    }
    ops::combine_per_sample(z, per_sample(1.0 / now.sigma), x0, per_sample(-now.alpha / now.sigma), eps);

    // DDIM's sigma_t(eta): the fresh-noise scale of the step now -> next.
    const double ratio = (now.alpha * now.alpha) / (next.alpha * next.alpha);
    const double fresh = options.eta * (next.sigma / now.sigma) * std::sqrt(std::max(0.0, 1.0 - ratio));
    const double kept = std::sqrt(std::max(0.0, next.sigma * next.sigma - fresh * fresh));
    ops::combine_per_sample(x0, per_sample(next.alpha), eps, per_sample(kept), z);
    if (fresh > 0.0) {
      ops::fill_normal(noise, options.seed, kPurposeSampler, static_cast<uint32_t>(k + 1), options.first_sample);
      ops::combine_per_sample(z, per_sample(1.0), noise, per_sample(fresh), z);
    }
  }
  return z;
}

}  // namespace diffuse
