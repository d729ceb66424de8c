#include <gtest/gtest.h>

#include <cmath>

#include "diffusion/schedule.h"

namespace diffuse {
namespace {

constexpr double kPi = 3.14159265358979323846;

TEST(Schedule, LinearMatchesDdpmBetas) {
  const NoiseSchedule schedule(ScheduleKind::Linear, 1000);
  // alpha_bar_0 = 1 - 1e-4; alpha_bar_999 = prod(1 - beta_i), about 4.04e-5 (DDPM).
  const NoiseLevel first = schedule.training_level(0.0);
  EXPECT_NEAR(first.alpha * first.alpha, 1.0 - 1e-4, 1e-12);
  EXPECT_EQ(first.network_time, 0.0f);
  const NoiseLevel last = schedule.training_level(0.99999);
  EXPECT_NEAR(last.alpha * last.alpha, 4.036e-5, 1e-7);
  EXPECT_EQ(last.network_time, 999.0f);
}

TEST(Schedule, CosineMatchesNicholDhariwal) {
  const NoiseSchedule schedule(ScheduleKind::Cosine, 1000);
  auto f = [](double s) { return std::pow(std::cos((s + 0.008) / 1.008 * kPi / 2), 2); };
  for (int i : {0, 10, 500, 900}) {
    const NoiseLevel level = schedule.training_level((i + 0.5) / 1000.0);
    // Without beta clipping (which only acts near the end) alpha_bar(i) = f((i+1)/T) / f(0).
    EXPECT_NEAR(level.alpha * level.alpha, f((i + 1) / 1000.0) / f(0.0), 1e-9) << "step " << i;
  }
}

TEST(Schedule, ContinuousCosineIsVariancePreserving) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  for (double t : {0.01, 0.25, 0.5, 0.75, 0.99}) {
    const NoiseLevel level = schedule.at_time(t);
    EXPECT_NEAR(level.alpha, std::cos(kPi * t / 2), 1e-12);
    EXPECT_NEAR(level.alpha * level.alpha + level.sigma * level.sigma, 1.0, 1e-12);
    EXPECT_FLOAT_EQ(level.network_time, static_cast<float>(1000 * t));
  }
  // The ends are clipped to |log SNR| <= 15 so nothing divides by zero.
  const NoiseLevel end = schedule.at_time(1.0);
  EXPECT_GT(end.alpha, 0.0);
  EXPECT_NEAR(std::log(end.snr()), -15.0, 1e-9);
}

TEST(Schedule, SamplingPathsGoFromNoiseToClean) {
  for (ScheduleKind kind : {ScheduleKind::Linear, ScheduleKind::Cosine, ScheduleKind::CosineContinuous}) {
    const NoiseSchedule schedule(kind, 1000);
    for (int steps : {1, 4, 50, 1000}) {
      const std::vector<NoiseLevel> path = schedule.sampling_path(steps);
      ASSERT_EQ(path.size(), static_cast<size_t>(steps) + 1);
      EXPECT_EQ(path.back().alpha, 1.0);
      EXPECT_EQ(path.back().sigma, 0.0);
      EXPECT_GT(path.front().sigma, 0.99);
      for (size_t k = 1; k < path.size(); ++k) EXPECT_LT(path[k].sigma, path[k - 1].sigma) << "step " << k;
    }
  }
}

TEST(Schedule, DiscretePathUsesEvenlySpacedSteps) {
  const NoiseSchedule schedule(ScheduleKind::Linear, 1000);
  const std::vector<NoiseLevel> path = schedule.sampling_path(4);
  EXPECT_EQ(path[0].network_time, 999.0f);
  EXPECT_EQ(path[1].network_time, 749.0f);
  EXPECT_EQ(path[2].network_time, 499.0f);
  EXPECT_EQ(path[3].network_time, 249.0f);
}

// The VE sigma is sigma / alpha; the ODE samplers' grid defaults to the trained range.
TEST(Schedule, VeSigmaRangeIsTheTrainedOne) {
  const NoiseSchedule linear(ScheduleKind::Linear, 1000);
  const NoiseLevel first = linear.training_level(0.0), last = linear.training_level(0.99999);
  EXPECT_NEAR(linear.smallest_ve_sigma(), first.sigma / first.alpha, 1e-12);
  EXPECT_NEAR(linear.largest_ve_sigma(), last.sigma / last.alpha, 1e-9);
  const NoiseSchedule continuous(ScheduleKind::CosineContinuous, 1000);
  EXPECT_NEAR(std::log(continuous.smallest_ve_sigma()), -7.5, 1e-12);
  EXPECT_NEAR(std::log(continuous.largest_ve_sigma()), 7.5, 1e-12);
}

TEST(Schedule, ContinuousVeSigmaIsTheLevelAtItsTime) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  for (double ve_sigma : {0.002, 0.5, 1.0, 80.0}) {
    const NoiseLevel level = schedule.at_ve_sigma(ve_sigma);
    EXPECT_NEAR(level.sigma / level.alpha, ve_sigma, 1e-12 * ve_sigma);
    const NoiseLevel at_time = schedule.at_time(level.time);
    EXPECT_NEAR(at_time.alpha, level.alpha, 1e-12);
    EXPECT_NEAR(at_time.sigma, level.sigma, 1e-12);
    EXPECT_FLOAT_EQ(level.network_time, static_cast<float>(1000 * level.time));
  }
}

// Discrete schedules: a step's own sigma gives its index; between two steps the index is interpolated in log sigma.
TEST(Schedule, DiscreteVeSigmaInterpolatesTheStepIndexInLogSigma) {
  for (ScheduleKind kind : {ScheduleKind::Linear, ScheduleKind::Cosine}) {
    const NoiseSchedule schedule(kind, 1000);
    const auto ve_sigma_of_step = [&](int i) {
      const NoiseLevel level = schedule.training_level((i + 0.5) / 1000.0);
      return level.sigma / level.alpha;
    };
    for (int i : {0, 1, 250, 998, 999}) EXPECT_NEAR(schedule.at_ve_sigma(ve_sigma_of_step(i)).network_time, i, 1e-4);
    const double between = std::sqrt(ve_sigma_of_step(100) * ve_sigma_of_step(101));
    const NoiseLevel level = schedule.at_ve_sigma(between);
    EXPECT_NEAR(level.network_time, 100.5, 1e-4);
    EXPECT_NEAR(level.sigma / level.alpha, between, 1e-12 * between);
    // Outside the trained range the network time stays at the end steps, the level itself exact.
    EXPECT_EQ(schedule.at_ve_sigma(1e-6).network_time, 0.0f);
    EXPECT_EQ(schedule.at_ve_sigma(1e6).network_time, 999.0f);
    EXPECT_NEAR(schedule.at_ve_sigma(1e6).alpha, 1e-6, 1e-12);
  }
}

}  // namespace
}  // namespace diffuse
