#include "diffusion/ode_sampler.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/on_device.h"
#include "core/ops.h"
#include "core/philox.h"
#include "diffusion/guidance.h"

namespace diffuse {

std::vector<double> karras_sigmas(int steps, double sigma_min, double sigma_max, double rho) {
  DIFFUSE_CHECK(steps >= 1, "a sampler needs at least one step, got ", steps);
  DIFFUSE_CHECK(sigma_min > 0.0 && sigma_min < sigma_max && rho > 0.0,
                "the Karras grid needs 0 < sigma_min < sigma_max and rho > 0, got sigma_min ", sigma_min,
                ", sigma_max ", sigma_max, ", rho ", rho);
  const double from = std::pow(sigma_max, 1.0 / rho), to = std::pow(sigma_min, 1.0 / rho);
  std::vector<double> sigmas;
  for (int i = 0; i < steps; ++i)
    sigmas.push_back(steps == 1 ? sigma_max : std::pow(from + i * (to - from) / (steps - 1), rho));
  sigmas.push_back(0.0);
  return sigmas;
}

namespace {

// x, D and the buffers of one denoiser call, for a batch of `shape`.
class VeDenoiser {
 public:
  VeDenoiser(const NoiseSchedule& schedule, const Parameterization& network, const Denoiser& denoiser,
             const Shape& shape, const Tensor& labels, const SamplerOptions& options)
      : schedule_(schedule),
        network_(network),
        denoiser_(denoiser),
        options_(options),
        labels_(labels.defined() ? on_device(labels, options.device) : Tensor()),
        z_(Tensor::empty(shape, DType::F32, options.device)),
        out_(Tensor::empty(shape, DType::F32, options.device)),
        scratch_(Tensor::empty(shape, DType::F32, options.device)),
        input_(Tensor::empty(shape, DType::F32, options.device)) {}

  // A per-sample scalar for combine_per_sample.
  Tensor scalar(double value) const { return per_sample_constant(z_.dim(0), value, options_.device); }

  // denoised = D(x, sigma): the x0 estimate, clipped to [-1, 1], of the network at the level whose VE sigma is sigma.
  void operator()(const Tensor& x, double sigma, const Tensor& denoised) {
    const NoiseLevel level = schedule_.at_ve_sigma(sigma);
    ops::scale(x, static_cast<float>(level.alpha), z_);
    guided_output(denoiser_, network_input(network_, level, z_, input_), scalar(network_time(network_, level)), labels_,
                  options_, out_, scratch_);
    const Mix x_mix = x0_from_network(network_, level);
    ops::combine_per_sample(z_, scalar(x_mix.first), out_, scalar(x_mix.second), denoised);
    ops::clamp(denoised, -1.0f, 1.0f, denoised);
  }

 private:
  const NoiseSchedule& schedule_;
  const Parameterization& network_;
  const Denoiser& denoiser_;
  const SamplerOptions& options_;
  Tensor labels_, z_, out_, scratch_, input_;
};

}  // namespace

Tensor sample_ode(const NoiseSchedule& schedule, const Parameterization& network, const Denoiser& denoiser,
                  const Shape& shape, const Tensor& labels, const SamplerOptions& options) {
  const SamplerKind kind = options.sampler;
  DIFFUSE_CHECK(kind == SamplerKind::kEuler || kind == SamplerKind::kHeun || kind == SamplerKind::kDpmpp2m,
                "sample_ode: ", name_of(kSamplerNames, kind), " is not an ODE sampler");
  const SigmaRange range = sigma_range(options.sigma_min, options.sigma_max, network, schedule);
  const std::vector<double> sigmas = karras_sigmas(options.steps, range.min, range.max, options.rho);

  VeDenoiser denoise(schedule, network, denoiser, shape, labels, options);
  const auto map = [&] { return Tensor::empty(shape, DType::F32, options.device); };
  Tensor x = map(), denoised = map(), previous = map(), slope = map(), trial = map();
  ops::fill_normal(x, options.seed, kPurposeSampler, 0, options.first_sample);
  ops::scale(x, static_cast<float>(range.max), x);
  const double churn_gamma = std::min(options.s_churn / options.steps, std::sqrt(2.0) - 1.0);
  Tensor churn_noise = churn_gamma > 0.0 ? map() : Tensor();

  for (size_t i = 0; i + 1 < sigmas.size(); ++i) {
    double sigma = sigmas[i];
    const double next = sigmas[i + 1];
    if (churn_gamma > 0.0 && sigma >= options.s_tmin && sigma <= options.s_tmax) {
      // Churn: noise added to raise the level to sigma_hat, from which this step starts instead.
      const double sigma_hat = sigma * (1.0 + churn_gamma);
      ops::fill_normal(churn_noise, options.seed, kPurposeChurn, static_cast<uint32_t>(i), options.first_sample);
      const double added = std::sqrt(sigma_hat * sigma_hat - sigma * sigma) * options.s_noise;
      ops::combine_per_sample(x, denoise.scalar(1.0), churn_noise, denoise.scalar(added), x);
      sigma = sigma_hat;
    }
    denoise(x, sigma, denoised);
    if (next == 0.0) {
      // Every solver's last step: the Euler step to sigma 0 lands on D.
      copy(denoised, x);
      break;
    }
    const double ratio = next / sigma;
    if (kind == SamplerKind::kDpmpp2m && i > 0) {
      // The data prediction extrapolated linearly in lambda = -log sigma from the last two: with r = h_last / h,
      // D' = (1 + 1/(2r)) D_i - 1/(2r) D_{i-1}; then the exact step of the linear ODE in lambda.
      const double h = std::log(sigma / next), h_last = std::log(sigmas[i - 1] / sigma);
      const double half_inverse_r = h / (2.0 * h_last);
      ops::combine_per_sample(denoised, denoise.scalar(1.0 + half_inverse_r), previous, denoise.scalar(-half_inverse_r),
                              previous);
      ops::combine_per_sample(x, denoise.scalar(ratio), previous, denoise.scalar(1.0 - ratio), x);
      std::swap(previous, denoised);  // `previous` now holds D_i for the next step
      continue;
    }
    if (kind != SamplerKind::kHeun) {
      // Euler's step, which is also DPM-Solver++'s first-order step: x + (next - sigma) (x - D) / sigma.
      ops::combine_per_sample(x, denoise.scalar(ratio), denoised, denoise.scalar(1.0 - ratio), x);
      if (kind == SamplerKind::kDpmpp2m) std::swap(previous, denoised);
      continue;
    }
    // Heun: the slope d = (x - D) / sigma here and at the Euler trial point, averaged.
    const double h = next - sigma;
    ops::combine_per_sample(x, denoise.scalar(1.0 / sigma), denoised, denoise.scalar(-1.0 / sigma), slope);
    ops::combine_per_sample(x, denoise.scalar(1.0), slope, denoise.scalar(h), trial);
    denoise(trial, next, denoised);
    ops::combine_per_sample(trial, denoise.scalar(0.5 / next), denoised, denoise.scalar(-0.5 / next), trial);
    ops::combine_per_sample(slope, denoise.scalar(0.5), trial, denoise.scalar(1.0), slope);
    ops::combine_per_sample(x, denoise.scalar(1.0), slope, denoise.scalar(h), x);
  }
  return x;
}

}  // namespace diffuse
