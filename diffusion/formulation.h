// How the network is fed and what its output means (diffusion.formulation):
//
//  - vp:  the network sees z = alpha x + sigma eps and the schedule's network time, and its output predicts eps,
//         x0 or v (diffusion/objective.h).
//  - edm: Karras et al. (2022)'s preconditioning (NVlabs/edm EDMPrecond and EDMLoss). With the VE noise level
//         s = sigma / alpha and x_s = z / alpha = x + s eps, the denoiser is
//           D(x_s, s) = c_skip(s) x_s + c_out(s) F(c_in(s) x_s, c_noise(s)),
//           c_skip = sd^2 / (s^2 + sd^2), c_out = s sd / sqrt(s^2 + sd^2), c_in = 1 / sqrt(s^2 + sd^2),
//           c_noise = ln(s) / 4,
//         sd = sigma_data. Training draws ln s ~ N(p_mean, p_std^2) and weights |D - x|^2 by
//         lambda(s) = (s^2 + sd^2) / (s sd)^2, which is exactly weight 1 on |F - F*|^2 (lambda c_out^2 = 1).
//
// EDM lives in the same VP view as everything else: its level s is the VP level alpha = 1 / sqrt(1 + s^2),
// sigma = s alpha (NoiseSchedule::at_ve_sigma's mapping), so samplers, distillation and training keep walking
// NoiseLevels and only ask a Parameterization three things: the scale of the network input (c_in / alpha on z,
// i.e. c_in x_s), the network time, and how the output turns into x0 (x_hat = c_skip / alpha z + c_out F).
//
// Network time for edm: the U-Net's sinusoidal time embedding has frequencies 10000^(-i/(D/2-1)), made for times
// in [0, 1000] (the discrete step index, or 1000 t). EDM's c_noise = ln(s) / 4 spans only a few units, which
// would leave the slow frequencies constant, so the network sees the affine map 250 c_noise + 500: c_noise in
// [-2, 2] (s from e^-8 to e^8, beyond EDM's sampling range 0.002..80 and training draws) covers [0, 1000].
#pragma once

#include "core/enum_names.h"
#include "core/tensor.h"
#include "diffusion/objective.h"
#include "diffusion/schedule.h"

namespace diffuse {

// consistency: a consistency model trained without a teacher (iCT, diffusion/consistency.h). Its network is fed and
// read as an edm model's (its Parameterization is edm), and its consistency function is
// f = c_skip x + (1 - c_skip) D with that D.
enum class Formulation { kVp, kEdm, kConsistency };
inline constexpr EnumName<Formulation> kFormulationNames[] = {
    {Formulation::kVp, "vp"}, {Formulation::kEdm, "edm"}, {Formulation::kConsistency, "consistency"}};

// EDM's Karras grid when sample.sigma_min / sigma_max are left 0.
inline constexpr double kEdmSigmaMin = 0.002;
inline constexpr double kEdmSigmaMax = 80.0;

// EDM's preconditioning and training noise distribution; s is the VE noise level.
struct EdmPreconditioning {
  double sigma_data = 0.5;
  double p_mean = -1.2;
  double p_std = 1.2;

  double c_skip(double s) const;
  double c_out(double s) const;
  double c_in(double s) const;
  double c_noise(double s) const;
  // lambda(s), the weight on |D - x|^2.
  double loss_weight(double s) const;
  // exp(p_mean + p_std * normal): the training noise level for a standard normal draw.
  double training_sigma(double normal) const;
};

// The time-embedding input for c_noise: 250 c_noise + 500 (see the header comment).
float edm_network_time(double c_noise);

// The VP level whose VE sigma is s: alpha = 1 / sqrt(1 + s^2), sigma = s alpha (time and network time unset:
// Parameterization::network_time gives the latter).
NoiseLevel level_at_ve_sigma(double s);

struct Parameterization {
  // A VP network predicting `prediction`; implicit, so that a Prediction names a VP model wherever a
  // Parameterization is asked for.
  Parameterization(Prediction prediction) : prediction(prediction) {}  // NOLINT(google-explicit-constructor)
  static Parameterization edm(const EdmPreconditioning& preconditioning);

  Formulation formulation = Formulation::kVp;
  Prediction prediction = Prediction::Eps;  // vp only
  EdmPreconditioning preconditioning;       // edm only

  bool is_edm() const { return formulation == Formulation::kEdm; }
};

// The network input is input_scale * z: 1 for vp, c_in / alpha for edm.
double network_input_scale(const Parameterization& network, const NoiseLevel& level);
// input_scale * z written into `buffer` and returned; vp returns z itself.
Tensor network_input(const Parameterization& network, const NoiseLevel& level, const Tensor& z, const Tensor& buffer);
// The value fed to the time embedding at `level` (> 0 noise).
float network_time(const Parameterization& network, const NoiseLevel& level);
// x_hat = first * z + second * output.
Mix x0_from_network(const Parameterization& network, const NoiseLevel& level);
// The training regression target o* = first * x + second * eps.
Mix training_target(const Parameterization& network, const NoiseLevel& level);
// The per-sample weight on mean((o - o*)^2) in training: vp's output_loss_weight, edm's lambda c_out^2 = 1
// (EDM has its own weighting; diffusion.loss_weight is refused with it).
double training_weight(const Parameterization& network, LossWeighting weighting, const NoiseLevel& level,
                       double min_snr_gamma);
// The weight on mean((o - o*)^2) that makes it w(SNR) |x - x_hat|^2 for `weighting` (distillation): vp's
// output_loss_weight, edm's w(SNR) c_out^2.
double x_error_weight(const Parameterization& network, LossWeighting weighting, const NoiseLevel& level,
                      double min_snr_gamma);

// The ends of the ODE samplers' and consistency models' Karras grid as configured (sample.sigma_min,
// sample.sigma_max), where a 0 means the default: EDM's 0.002..80, which Karras et al. use for VP and VE models
// alike, clipped to the schedule's trained VE range for vp (a cosine_continuous schedule reaches 1808, where the
// first of a few Heun steps is wasted).
struct SigmaRange {
  double min;
  double max;
};
SigmaRange sigma_range(double sigma_min, double sigma_max, const Parameterization& network,
                       const NoiseSchedule& schedule);

}  // namespace diffuse
