// What the network predicts and how its error is weighted.
//
// With z = alpha x + sigma eps, the network output o predicts eps, x (x0) or
// v = alpha eps - sigma x. The loss is a per-sample weighted MSE on o whose
// weight makes it equal to w(SNR) * |x - x_hat|^2 (Salimans & Ho 2022):
//   simple:       w = SNR           (the eps-MSE of DDPM)
//   snr_trunc:    w = max(SNR, 1)   (truncated SNR)
//   snr_plus_one: w = SNR + 1       (the v-MSE)
//   min_snr:      w = min(SNR, gamma) (Min-SNR-gamma, Hang et al. 2023: min(SNR, gamma) / SNR on the eps-MSE,
//                                      min(SNR, gamma) / (SNR + 1) on the v-MSE)
// Because |x - x_hat|^2 = c |o - o*|^2 with c = 1/SNR (eps), 1 (x0) or
// sigma^2 (v), the weight on the output MSE is w * c.
#pragma once

#include "core/enum_names.h"
#include "diffusion/schedule.h"

namespace diffuse {

enum class Prediction { Eps, X0, V };
inline constexpr EnumName<Prediction> kPredictionNames[] = {
    {Prediction::Eps, "eps"}, {Prediction::X0, "x0"}, {Prediction::V, "v"}};

enum class LossWeighting { Simple, SnrTruncated, SnrPlusOne, MinSnr };
inline constexpr EnumName<LossWeighting> kLossWeightingNames[] = {{LossWeighting::Simple, "simple"},
                                                                  {LossWeighting::SnrTruncated, "snr_trunc"},
                                                                  {LossWeighting::SnrPlusOne, "snr_plus_one"},
                                                                  {LossWeighting::MinSnr, "min_snr"}};
// min_snr's gamma unless diffusion.min_snr_gamma says otherwise: Hang et al.'s choice.
inline constexpr double kDefaultMinSnrGamma = 5.0;

inline const char* prediction_name(Prediction prediction) { return name_of(kPredictionNames, prediction); }

// A linear combination first * u + second * w of two per-sample tensors.
struct Mix {
  double first = 0.0;
  double second = 0.0;
};

// The regression target o* = first * x + second * eps.
Mix prediction_target(Prediction prediction, const NoiseLevel& level);
// The per-sample weight on mean((o - o*)^2); min_snr_gamma is min_snr's gamma, unused by the other weightings.
double output_loss_weight(Prediction prediction, LossWeighting weighting, const NoiseLevel& level,
                          double min_snr_gamma);
// Estimates from the output: x_hat = first * z + second * o, eps_hat likewise.
Mix x0_from_output(Prediction prediction, const NoiseLevel& level);
Mix eps_from_output(Prediction prediction, const NoiseLevel& level);

}  // namespace diffuse
