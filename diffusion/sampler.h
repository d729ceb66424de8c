// Samplers: DDIM (Song et al. 2021) with its eta, of which DDPM's ancestral
// sampler is the eta = 1 case, walking a schedule's sampling path from pure
// noise to a clean image; and the probability-flow ODE solvers euler, heun
// (Karras et al. 2022) and dpmpp_2m (Lu et al. 2022) on the Karras sigma grid
// (diffusion/ode_sampler.h). Classifier-free guidance (Ho & Salimans 2022)
// combines the conditional and unconditional outputs as (1 + w) o_c - w o_u.
// euler and heun take EDM's stochastic churn (Karras et al. 2022, Algorithm 2):
// on each step whose sigma_i is in [s_tmin, s_tmax] they first raise the noise
// to sigma_hat = sigma_i (1 + gamma), gamma = min(s_churn / steps, sqrt(2) - 1),
// by adding sqrt(sigma_hat^2 - sigma_i^2) s_noise eps, then step from sigma_hat.
// Every random draw is keyed by the global sample index, so a sample does not
// depend on the batch it was drawn in or on the number of ranks.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/enum_names.h"
#include "core/tensor.h"
#include "diffusion/formulation.h"
#include "diffusion/schedule.h"

namespace diffuse {

// Runs the network: z [N,H,W,C], time [N] (network time), labels [N] i32 or
// undefined -> out [N,H,W,C].
using Denoiser = std::function<void(const Tensor& z, const Tensor& time, const Tensor& labels, const Tensor& out)>;

// What sample.sampler and --sampler name: DDIM, DDPM's ancestral sampler (DDIM with eta 1), or an ODE solver.
// consistency samples a consistency model (diffusion/consistency.h) in one or a few steps.
enum class SamplerKind { kDdpm, kDdim, kEuler, kHeun, kDpmpp2m, kConsistency };
inline constexpr EnumName<SamplerKind> kSamplerNames[] = {
    {SamplerKind::kDdpm, "ddpm"}, {SamplerKind::kDdim, "ddim"},        {SamplerKind::kEuler, "euler"},
    {SamplerKind::kHeun, "heun"}, {SamplerKind::kDpmpp2m, "dpmpp_2m"}, {SamplerKind::kConsistency, "consistency"}};

// The denoiser evaluations (NFE) of `steps` steps, not counting guidance's second pass: heun's last step is an
// Euler step, so it takes 2 steps - 1; every other sampler one per step.
int network_evaluations(SamplerKind sampler, int steps);
// Whether the sampler takes EDM's churn (s_churn): euler and heun do.
bool takes_churn(SamplerKind sampler);

// The default s_tmax: above any noise level, and finite so that a config holding it round-trips through YAML.
inline constexpr double kUnboundedChurnSigma = 1e30;

struct SamplerOptions {
  SamplerKind sampler = SamplerKind::kDdim;  // ddpm and ddim both follow eta
  int steps = 50;
  double eta = 0.0;       // 0: deterministic DDIM; 1: DDPM ancestral
  double guidance = 0.0;  // w; 0 = plain conditional sampling
  // The Karras grid of the ODE samplers, in VE sigma (diffusion/schedule.h); 0 = EDM's 0.002 / 80, clipped to the
  // schedule's trained range (diffusion/formulation.h sigma_range).
  double sigma_min = 0.0;
  double sigma_max = 0.0;
  double rho = 7.0;
  // EDM's churn of euler and heun: 0 = deterministic; churned steps are those with sigma_i in [s_tmin, s_tmax].
  double s_churn = 0.0;
  double s_tmin = 0.0;
  double s_tmax = kUnboundedChurnSigma;
  double s_noise = 1.0;  // the added noise's scale relative to the exact sqrt(sigma_hat^2 - sigma_i^2)
  // The consistency sampler: the model's grid of N levels on [sigma_min, sigma_max] (rho as above), and the
  // intermediate levels of a multistep sample, decreasing (empty: steps - 1 evenly spaced indices of the grid).
  int consistency_levels = 0;
  std::vector<double> consistency_sigmas;
  uint64_t seed = 0;
  uint32_t first_sample = 0;    // global index of this batch's first sample
  int null_label = -1;          // the "no class" label (num_classes) for guidance
  Device device = Device::CPU;  // where the images, and the denoiser's inputs, live
};

// Draws images [N,H,W,C] in [-1, 1] on options.device (shape gives N,H,W,C; labels [N] i32 or undefined, on
// any device).
// The network runs as `network` says (diffusion/formulation.h); ddpm and ddim walk the schedule's sampling path
// with either formulation (an EDM model at those levels' VE sigmas).
Tensor sample_images(const NoiseSchedule& schedule, const Parameterization& network, const Denoiser& denoiser,
                     const Shape& shape, const Tensor& labels, const SamplerOptions& options);

}  // namespace diffuse
