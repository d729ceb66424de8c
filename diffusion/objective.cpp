#include "diffusion/objective.h"

#include <algorithm>

#include "core/error.h"

namespace diffuse {

Prediction parse_prediction(const std::string& name) {
  if (name == "eps") return Prediction::Eps;
  if (name == "x0") return Prediction::X0;
  if (name == "v") return Prediction::V;
  DIFFUSE_CHECK(false, "unknown prediction '", name, "' (eps, x0 or v)");
  return Prediction::Eps;
}

LossWeighting parse_loss_weighting(const std::string& name) {
  if (name == "simple") return LossWeighting::Simple;
  if (name == "snr_trunc") return LossWeighting::SnrTruncated;
  if (name == "snr_plus_one") return LossWeighting::SnrPlusOne;
  DIFFUSE_CHECK(false, "unknown loss weight '", name, "' (simple, snr_trunc or snr_plus_one)");
  return LossWeighting::Simple;
}

const char* prediction_name(Prediction prediction) {
  switch (prediction) {
    case Prediction::Eps: return "eps";
    case Prediction::X0: return "x0";
    case Prediction::V: return "v";
  }
  return "?";
}

Mix prediction_target(Prediction prediction, const NoiseLevel& level) {
  switch (prediction) {
    case Prediction::Eps: return {0.0, 1.0};
    case Prediction::X0: return {1.0, 0.0};
    case Prediction::V: return {-level.sigma, level.alpha};
  }
  return {};
}

double output_loss_weight(Prediction prediction, LossWeighting weighting, const NoiseLevel& level) {
  const double snr = level.snr();
  // |x - x_hat|^2 per unit |o - o*|^2, written to stay finite as SNR -> 0 or infinity.
  double x_error_per_output_error = 1.0;
  if (prediction == Prediction::Eps) x_error_per_output_error = (level.sigma * level.sigma) / (level.alpha * level.alpha);
  if (prediction == Prediction::V) x_error_per_output_error = level.sigma * level.sigma;
  switch (weighting) {
    case LossWeighting::Simple:
      // SNR * c: exactly 1 for eps, alpha^2 for v.
      if (prediction == Prediction::Eps) return 1.0;
      if (prediction == Prediction::V) return level.alpha * level.alpha;
      return snr;
    case LossWeighting::SnrTruncated: return std::max(snr, 1.0) * x_error_per_output_error;
    case LossWeighting::SnrPlusOne:
      // (SNR + 1) * c: exactly 1 for v, 1 + 1/SNR for eps.
      if (prediction == Prediction::V) return 1.0;
      return (snr + 1.0) * x_error_per_output_error;
  }
  return 1.0;
}

Mix x0_from_output(Prediction prediction, const NoiseLevel& level) {
  switch (prediction) {
    case Prediction::Eps: return {1.0 / level.alpha, -level.sigma / level.alpha};
    case Prediction::X0: return {0.0, 1.0};
    case Prediction::V: return {level.alpha, -level.sigma};
  }
  return {};
}

Mix eps_from_output(Prediction prediction, const NoiseLevel& level) {
  switch (prediction) {
    case Prediction::Eps: return {0.0, 1.0};
    case Prediction::X0: return {1.0 / level.sigma, -level.alpha / level.sigma};
    case Prediction::V: return {level.sigma, level.alpha};
  }
  return {};
}

}  // namespace diffuse
