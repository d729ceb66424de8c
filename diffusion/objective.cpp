#include "diffusion/objective.h"

#include <algorithm>

namespace diffuse {

Mix prediction_target(Prediction prediction, const NoiseLevel& level) {
  switch (prediction) {
    case Prediction::Eps:
      return {0.0, 1.0};
    case Prediction::X0:
      return {1.0, 0.0};
    case Prediction::V:
      return {-level.sigma, level.alpha};
  }
  return {};
}

double output_loss_weight(Prediction prediction, LossWeighting weighting, const NoiseLevel& level,
                          double min_snr_gamma) {
  const double snr = level.snr();
  // |x - x_hat|^2 per unit |o - o*|^2, written to stay finite as SNR -> 0 or infinity.
  double x_error_per_output_error = 1.0;
  if (prediction == Prediction::Eps)
    x_error_per_output_error = (level.sigma * level.sigma) / (level.alpha * level.alpha);
  if (prediction == Prediction::V) x_error_per_output_error = level.sigma * level.sigma;
  switch (weighting) {
    case LossWeighting::Simple:
      // SNR * c: exactly 1 for eps, alpha^2 for v.
      if (prediction == Prediction::Eps) return 1.0;
      if (prediction == Prediction::V) return level.alpha * level.alpha;
      return snr;
    case LossWeighting::SnrTruncated:
      return std::max(snr, 1.0) * x_error_per_output_error;
    case LossWeighting::SnrPlusOne:
      // (SNR + 1) * c: exactly 1 for v, 1 + 1/SNR for eps.
      if (prediction == Prediction::V) return 1.0;
      return (snr + 1.0) * x_error_per_output_error;
    case LossWeighting::MinSnr:
      // min(SNR, gamma) * c: min(1, gamma / SNR) for eps, min(alpha^2, gamma sigma^2) for v, finite at both ends.
      if (prediction == Prediction::Eps) return std::min(1.0, min_snr_gamma * x_error_per_output_error);
      if (prediction == Prediction::V)
        return std::min(level.alpha * level.alpha, min_snr_gamma * x_error_per_output_error);
      return std::min(snr, min_snr_gamma);
  }
  return 1.0;
}

Mix x0_from_output(Prediction prediction, const NoiseLevel& level) {
  switch (prediction) {
    case Prediction::Eps:
      return {1.0 / level.alpha, -level.sigma / level.alpha};
    case Prediction::X0:
      return {0.0, 1.0};
    case Prediction::V:
      return {level.alpha, -level.sigma};
  }
  return {};
}

Mix eps_from_output(Prediction prediction, const NoiseLevel& level) {
  switch (prediction) {
    case Prediction::Eps:
      return {0.0, 1.0};
    case Prediction::X0:
      return {1.0 / level.sigma, -level.alpha / level.sigma};
    case Prediction::V:
      return {level.sigma, level.alpha};
  }
  return {};
}

}  // namespace diffuse
