#include "diffusion/formulation.h"

#include <algorithm>
#include <cmath>

#include "core/ops.h"

namespace diffuse {

double EdmPreconditioning::c_skip(double s) const {
  const double sd2 = sigma_data * sigma_data;
  return sd2 / (s * s + sd2);
}

double EdmPreconditioning::c_out(double s) const { return s * sigma_data / std::sqrt(s * s + sigma_data * sigma_data); }

double EdmPreconditioning::c_in(double s) const { return 1.0 / std::sqrt(s * s + sigma_data * sigma_data); }

double EdmPreconditioning::c_noise(double s) const { return std::log(s) / 4.0; }

double EdmPreconditioning::loss_weight(double s) const {
  const double s_sd = s * sigma_data;
  return (s * s + sigma_data * sigma_data) / (s_sd * s_sd);
}

double EdmPreconditioning::training_sigma(double normal) const { return std::exp(p_mean + p_std * normal); }

float edm_network_time(double c_noise) { return static_cast<float>(250.0 * c_noise + 500.0); }

NoiseLevel level_at_ve_sigma(double s) {
  NoiseLevel level;
  level.alpha = 1.0 / std::sqrt(1.0 + s * s);
  level.sigma = s * level.alpha;
  return level;
}

Parameterization Parameterization::edm(const EdmPreconditioning& preconditioning) {
  Parameterization network(Prediction::Eps);
  network.formulation = Formulation::kEdm;
  network.preconditioning = preconditioning;
  return network;
}

namespace {
double ve_sigma(const NoiseLevel& level) { return level.sigma / level.alpha; }
}  // namespace

double network_input_scale(const Parameterization& network, const NoiseLevel& level) {
  if (!network.is_edm()) return 1.0;
  return network.preconditioning.c_in(ve_sigma(level)) / level.alpha;
}

Tensor network_input(const Parameterization& network, const NoiseLevel& level, const Tensor& z, const Tensor& buffer) {
  if (!network.is_edm()) return z;
  ops::scale(z, static_cast<float>(network_input_scale(network, level)), buffer);
  return buffer;
}

float network_time(const Parameterization& network, const NoiseLevel& level) {
  if (!network.is_edm()) return level.network_time;
  return edm_network_time(network.preconditioning.c_noise(ve_sigma(level)));
}

Mix x0_from_network(const Parameterization& network, const NoiseLevel& level) {
  if (!network.is_edm()) return x0_from_output(network.prediction, level);
  const double s = ve_sigma(level);
  return {network.preconditioning.c_skip(s) / level.alpha, network.preconditioning.c_out(s)};
}

Mix training_target(const Parameterization& network, const NoiseLevel& level) {
  if (!network.is_edm()) return prediction_target(network.prediction, level);
  // F* = (x - c_skip x_s) / c_out with x_s = x + s eps.
  const double s = ve_sigma(level);
  const double c_skip = network.preconditioning.c_skip(s), c_out = network.preconditioning.c_out(s);
  return {(1.0 - c_skip) / c_out, -c_skip * s / c_out};
}

double training_weight(const Parameterization& network, LossWeighting weighting, const NoiseLevel& level,
                       double min_snr_gamma) {
  if (!network.is_edm()) return output_loss_weight(network.prediction, weighting, level, min_snr_gamma);
  return 1.0;
}

double x_error_weight(const Parameterization& network, LossWeighting weighting, const NoiseLevel& level,
                      double min_snr_gamma) {
  if (!network.is_edm()) return output_loss_weight(network.prediction, weighting, level, min_snr_gamma);
  // An x0 prediction's output error is its x error, so its weight is w(SNR) itself.
  const double c_out = network.preconditioning.c_out(ve_sigma(level));
  return output_loss_weight(Prediction::X0, weighting, level, min_snr_gamma) * c_out * c_out;
}

namespace {

double default_sigma_min(const Parameterization& network, const NoiseSchedule& schedule) {
  return network.is_edm() ? kEdmSigmaMin : std::max(kEdmSigmaMin, schedule.smallest_ve_sigma());
}

double default_sigma_max(const Parameterization& network, const NoiseSchedule& schedule) {
  return network.is_edm() ? kEdmSigmaMax : std::min(kEdmSigmaMax, schedule.largest_ve_sigma());
}

}  // namespace

SigmaRange sigma_range(double sigma_min, double sigma_max, const Parameterization& network,
                       const NoiseSchedule& schedule) {
  return SigmaRange{sigma_min > 0.0 ? sigma_min : default_sigma_min(network, schedule),
                    sigma_max > 0.0 ? sigma_max : default_sigma_max(network, schedule)};
}

}  // namespace diffuse
