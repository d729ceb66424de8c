// Consistency models (Song et al. 2023) and improved consistency training (iCT, Song & Dhariwal 2023), in the VE
// frame x = z / alpha of the ODE samplers (diffusion/schedule.h), on an N-level Karras grid
// sigma_min = sigma_1 < ... < sigma_N = sigma_max (EDM's 0.002..80 and rho 7 unless the sample section says
// otherwise, clipped to a VP schedule's trained range: diffusion/formulation.h sigma_range).
//
// The consistency function. Song et al. write f(x, s) = c_skip(s) x + c_out(s) F(x, s) with
//   c_skip(s) = sd^2 / ((s - sigma_min)^2 + sd^2),   c_out(s) = sd (s - sigma_min) / sqrt(sd^2 + s^2),
// sd = sigma_data (0.5, a VP model's too), and F the raw network. Here F is instead the model's own denoiser D
// (its x estimate at s, diffusion/formulation.h, unclipped) and c_out = 1 - c_skip:
//   f(x, s) = c_skip(s) x + (1 - c_skip(s)) D(x, s).
// Why: a student initialised from a teacher of any formulation (VP eps, x0 or v, or EDM) is then already a
// sensible consistency function, f = D at high noise and f = x at sigma_min, whatever its raw output means; CM's
// c_out on a VP eps network's output would start from noise. The boundary condition holds exactly:
// c_skip(sigma_min) = 1 and 1 - c_skip(sigma_min) = 0. D is linear in the network output o, so f = a x + b o
// (consistency_output), which is what training differentiates and guidance combines.
//
// Distillation's teacher takes one ODE step sigma_{i+1} -> sigma_i of dx/ds = (x - D(x, s)) / s: Heun's for an
// EDM teacher (Karras et al.), Euler's for a VP teacher, which in the VE frame is exactly the DDIM step.
//
// The distance is the pseudo-Huber d(a, b) = sqrt(|a - b|^2 + c^2) - c per sample (core/ops.h), c = 0.00054
// sqrt(dim) as in iCT.
//
// iCT's schedule: N(k) = min(s0 2^floor(k / K'), s1) + 1 levels at optimizer step k of K, K' = floor(K / (log2(s1 /
// s0) + 1)); level pairs (sigma_i, sigma_{i+1}) drawn with p(i) proportional to erf((ln sigma_{i+1} - P_mean) /
// (sqrt2 P_std)) - erf((ln sigma_i - P_mean) / (sqrt2 P_std)), and weighted 1 / (sigma_{i+1} - sigma_i).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/tensor.h"
#include "diffusion/formulation.h"
#include "diffusion/objective.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"

namespace diffuse {

// iCT's pseudo-Huber constant per sqrt(dim) (c = 0.00054 sqrt(dim)).
inline constexpr double kPseudoHuberFactor = 0.00054;
double pseudo_huber_c(int64_t sample_elements, double factor = kPseudoHuberFactor);

// The N levels ascending: sigma_1 = sigma_min, ..., sigma_N = sigma_max (karras_sigmas reversed, without its 0).
std::vector<double> consistency_sigmas(int levels, double sigma_min, double sigma_max, double rho);

// c_skip(s) with the boundary at sigma_min (see the header comment).
double consistency_c_skip(double s, double sigma_min, double sigma_data);

// f = first * x + second * o for the network output o at `level` (its VE sigma s = sigma / alpha >= sigma_min).
Mix consistency_output(const Parameterization& network, const NoiseLevel& level, double sigma_min);

// The teacher's ODE solver: heun for edm, euler (= DDIM) for vp.
enum class TeacherSolver { kEuler, kHeun };
TeacherSolver consistency_teacher_solver(const Parameterization& network);

// out = D(x, sigmas[n]) per sample, unclipped; x in the VE frame.
using VeDenoise = std::function<void(const Tensor& x, const std::vector<double>& sigmas, const Tensor& out)>;

// The VE denoiser of a network run as `network` says, at the schedule's level for each VE sigma, with `labels`
// (undefined for unconditional models).
VeDenoise ve_denoiser(const Denoiser& run_network, const Parameterization& network, const NoiseSchedule& schedule,
                      const Tensor& labels);

// One solver step of the probability-flow ODE from `from[n]` to `to[n]` per sample: out = x at `to`.
void teacher_ode_step(const VeDenoise& denoise, TeacherSolver solver, const Tensor& x, const std::vector<double>& from,
                      const std::vector<double>& to, const Tensor& out);

// iCT's doubling curriculum: the number of levels N at optimizer step `step` of `total_steps`.
struct ConsistencyCurriculum {
  int start = 10;  // s0
  int end = 1280;  // s1
  int levels_at(int64_t step, int64_t total_steps) const;
};

// The probabilities of the N - 1 level pairs (sigma_i, sigma_{i+1}) under iCT's discretised log-normal.
std::vector<double> lognormal_pair_probabilities(const std::vector<double>& sigmas, double p_mean, double p_std);
// The pair index i (0-based, sigma_i < sigma_{i+1}) for a uniform draw u in [0, 1).
int draw_pair(const std::vector<double>& probabilities, double u);

// The levels a `steps`-step consistency sample evaluates f at, decreasing from sigma_max: options.consistency_sigmas
// after sigma_max, or steps - 1 evenly spaced indices of the N-level grid below it (index round((N - 1) (K - k) /
// K) for step k of K); a K above N - 1 is an Error naming it.
std::vector<double> consistency_sampling_sigmas(const std::vector<double>& grid, const SamplerOptions& options);

// sample_images for options.sampler consistency (Song et al. 2023, Algorithm 1): x = sigma_max z, x = f(x,
// sigma_max), then for each later level tau: x = f(x + sqrt(tau^2 - sigma_min^2) z_k, tau), each z_k keyed by
// global sample index; f is clipped to [-1, 1] like the other samplers' x estimates and guided like them.
Tensor sample_consistency(const NoiseSchedule& schedule, const Parameterization& network, const Denoiser& denoiser,
                          const Shape& shape, const Tensor& labels, const SamplerOptions& options);

}  // namespace diffuse
