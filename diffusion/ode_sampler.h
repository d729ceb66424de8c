// Samplers of the probability-flow ODE in the variance-exploding
// view x = z / alpha (diffusion/schedule.h), where dx/dsigma = (x - D(x, sigma)) / sigma
// and D is the model's x0 estimate at the level with that VE sigma, clipped to
// [-1, 1] as DDIM's is. They start from x = sigma_max * noise (the noise DDIM
// starts from, keyed by global sample index) and walk the Karras et al. (2022)
// grid down to 0:
//   euler:    first order, one evaluation per step.
//   heun:     Karras et al. Algorithm 1, second order; the last step, to sigma 0,
//             is an Euler step, so N steps cost 2 N - 1 evaluations.
//   dpmpp_2m: DPM-Solver++(2M) (Lu et al. 2022), second-order multistep in
//             data-prediction form, first order on its first and last steps
//             (as k-diffusion's), one evaluation per step.
// euler and heun take EDM's churn (diffusion/sampler.h), which makes them
// stochastic at no extra evaluations.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "diffusion/formulation.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"

namespace diffuse {

// sigma_i = (sigma_max^(1/rho) + i / (steps - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho for i < steps, then 0
// (one step: sigma_max, 0).
std::vector<double> karras_sigmas(int steps, double sigma_min, double sigma_max, double rho);

// sample_images for options.sampler euler, heun or dpmpp_2m.
Tensor sample_ode(const NoiseSchedule& schedule, const Parameterization& network, const Denoiser& denoiser,
                  const Shape& shape, const Tensor& labels, const SamplerOptions& options);

}  // namespace diffuse
