#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "diffusion/objective.h"

namespace diffuse {
namespace {

const Prediction kPredictions[] = {Prediction::Eps, Prediction::X0, Prediction::V};
const LossWeighting kWeightings[] = {LossWeighting::Simple, LossWeighting::SnrTruncated, LossWeighting::SnrPlusOne,
                                     LossWeighting::MinSnr};
constexpr double kGamma = 2.5;  // min_snr's: SNR crosses it at t near 0.4 on the cosine schedule

NoiseLevel level_at(double t) { return NoiseSchedule(ScheduleKind::CosineContinuous, 1000).at_time(t); }

TEST(Objective, EstimatesRecoverTheTruthFromTheTarget) {
  const double x = 0.7, eps = -1.3;
  for (Prediction prediction : kPredictions) {
    for (double t : {0.05, 0.5, 0.95}) {
      const NoiseLevel level = level_at(t);
      const double z = level.alpha * x + level.sigma * eps;
      const Mix target = prediction_target(prediction, level);
      const double output = target.first * x + target.second * eps;
      const Mix x_mix = x0_from_output(prediction, level), eps_mix = eps_from_output(prediction, level);
      // Exact algebra in double: only rounding remains.
      EXPECT_NEAR(x_mix.first * z + x_mix.second * output, x, 1e-9) << prediction_name(prediction) << " t=" << t;
      EXPECT_NEAR(eps_mix.first * z + eps_mix.second * output, eps, 1e-9) << prediction_name(prediction);
    }
  }
}

// weight * (o - o*)^2 must equal w(SNR) * (x - x_hat)^2 for any output error.
TEST(Objective, OutputWeightIsTheWeightOnXError) {
  for (Prediction prediction : kPredictions) {
    for (LossWeighting weighting : kWeightings) {
      for (double t : {0.1, 0.3, 0.5, 0.9}) {
        const NoiseLevel level = level_at(t);
        const double x = 0.3, eps = 0.8, output_error = 0.05;
        const Mix target = prediction_target(prediction, level);
        const double output = target.first * x + target.second * eps + output_error;
        const Mix x_mix = x0_from_output(prediction, level);
        const double z = level.alpha * x + level.sigma * eps;
        const double x_error = x_mix.first * z + x_mix.second * output - x;
        const double snr = level.snr();
        const double w = weighting == LossWeighting::Simple         ? snr
                         : weighting == LossWeighting::SnrTruncated ? std::max(snr, 1.0)
                         : weighting == LossWeighting::SnrPlusOne   ? snr + 1.0
                                                                    : std::min(snr, kGamma);
        const double lhs = output_loss_weight(prediction, weighting, level, kGamma) * output_error * output_error;
        EXPECT_NEAR(lhs, w * x_error * x_error, 1e-9 * std::max(1.0, lhs)) << prediction_name(prediction) << " t=" << t;
      }
    }
  }
}

TEST(Objective, CanonicalPairsHaveUnitWeight) {
  for (double t : {0.01, 0.5, 0.99}) {
    EXPECT_DOUBLE_EQ(output_loss_weight(Prediction::Eps, LossWeighting::Simple, level_at(t), kGamma), 1.0);
    EXPECT_DOUBLE_EQ(output_loss_weight(Prediction::V, LossWeighting::SnrPlusOne, level_at(t), kGamma), 1.0);
  }
}

// Hang et al.'s forms of Min-SNR-gamma: min(SNR, gamma) / SNR on the eps-MSE, min(SNR, gamma) / (SNR + 1) on the
// v-MSE; at the ends of the schedule, where SNR is 0 or infinite, the weights stay finite.
TEST(Objective, MinSnrIsHangEtAlsWeightOnTheEpsAndVLosses) {
  for (double t : {0.05, 0.3, 0.5, 0.95}) {
    const NoiseLevel level = level_at(t);
    const double snr = level.snr();
    EXPECT_NEAR(output_loss_weight(Prediction::Eps, LossWeighting::MinSnr, level, kGamma), std::min(snr, kGamma) / snr,
                1e-12)
        << " t=" << t;
    EXPECT_NEAR(output_loss_weight(Prediction::V, LossWeighting::MinSnr, level, kGamma),
                std::min(snr, kGamma) / (snr + 1), 1e-12)
        << " t=" << t;
  }
  for (Prediction prediction : kPredictions) {
    for (double t : {0.0, 1.0}) {
      const double weight = output_loss_weight(prediction, LossWeighting::MinSnr, level_at(t), kGamma);
      EXPECT_TRUE(std::isfinite(weight) && weight >= 0) << prediction_name(prediction) << " t=" << t << ": " << weight;
    }
  }
}

TEST(Objective, ParsesNamesAndRejectsOthers) {
  EXPECT_EQ(value_named(kPredictionNames, "v", "prediction"), Prediction::V);
  EXPECT_EQ(value_named(kLossWeightingNames, "snr_trunc", "loss weight"), LossWeighting::SnrTruncated);
  EXPECT_THROW(value_named(kPredictionNames, "score", "prediction"), diffuse::Error);
  EXPECT_EQ(value_named(kLossWeightingNames, "min_snr", "loss weight"), LossWeighting::MinSnr);
  EXPECT_THROW(value_named(kLossWeightingNames, "p2", "loss weight"), diffuse::Error);
}

}  // namespace
}  // namespace diffuse
