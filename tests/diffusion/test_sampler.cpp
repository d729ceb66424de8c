// Samplers against a denoiser that is exact: for data x ~ N(0, s^2) per
// element, E[x | z] = alpha s^2 z / (alpha^2 s^2 + sigma^2).
#include <gtest/gtest.h>

#include <cmath>

#include "core/ops.h"
#include "diffusion/sampler.h"
#include "tests/diffusion/sampler_testing.h"

namespace diffuse {
namespace {

constexpr double kDataStd = 0.3;  // small enough that clipping x_hat to [-1, 1] almost never acts

Denoiser exact_gaussian_denoiser(const NoiseSchedule& schedule, int* calls = nullptr) {
  return [&schedule, calls](const Tensor& z, const Tensor& time, const Tensor&, const Tensor& out) {
    if (calls) ++*calls;
    // Continuous schedule: network time is 1000 t.
    const NoiseLevel level = schedule.at_time(time.f32()[0] / 1000.0);
    const double s2 = kDataStd * kDataStd;
    const double gain = level.alpha * s2 / (level.alpha * level.alpha * s2 + level.sigma * level.sigma);
    for (int64_t i = 0; i < z.numel(); ++i) out.f32()[i] = static_cast<float>(gain * z.f32()[i]);
  };
}

double standard_deviation(const Tensor& x) {
  double sum = 0, sum2 = 0;
  for (float v : to_vector(x)) {
    sum += v;
    sum2 += static_cast<double>(v) * v;
  }
  const double n = static_cast<double>(x.numel());
  return std::sqrt(sum2 / n - (sum / n) * (sum / n));
}

// Standard deviation of 4000 sampled values after 200 steps with the exact denoiser.
double sampled_std(double eta, uint64_t seed) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  SamplerOptions options;
  options.steps = 200;
  options.eta = eta;
  options.seed = seed;
  return standard_deviation(
      sample_images(schedule, Prediction::X0, exact_gaussian_denoiser(schedule), {1000, 2, 2, 1}, Tensor(), options));
}

// 4000 draws: the std's sampling error is about 1.1%; 200 steps add little bias.
TEST(Sampler, DdimWithExactDenoiserReachesTheDataDistribution) {
  EXPECT_NEAR(sampled_std(0.0, 3), kDataStd, 0.05 * kDataStd);
}

TEST(Sampler, AncestralWithExactDenoiserReachesTheDataDistribution) {
  EXPECT_NEAR(sampled_std(1.0, 4), kDataStd, 0.05 * kDataStd);
}

TEST(Sampler, SamplesAreKeyedByGlobalIndex) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  SamplerOptions options;
  options.steps = 5;
  options.eta = 0.5;
  options.seed = 11;
  const Denoiser denoiser = exact_gaussian_denoiser(schedule);
  testing::expect_keyed_by_global_index(options, [&](const Shape& shape, const SamplerOptions& with) {
    return sample_images(schedule, Prediction::X0, denoiser, shape, Tensor(), with);
  });
}

TEST(Sampler, GuidanceCallsBothBranchesAndZeroGuidanceOnlyOne) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  Tensor labels = Tensor::empty({2}, DType::I32);
  labels.i32()[0] = 0;
  labels.i32()[1] = 1;
  SamplerOptions options;
  options.steps = 3;
  options.null_label = 2;
  int calls = 0;
  sample_images(schedule, Prediction::X0, exact_gaussian_denoiser(schedule, &calls), {2, 2, 2, 1}, labels, options);
  EXPECT_EQ(calls, 3);
  calls = 0;
  options.guidance = 2.0;
  sample_images(schedule, Prediction::X0, exact_gaussian_denoiser(schedule, &calls), {2, 2, 2, 1}, labels, options);
  EXPECT_EQ(calls, 6);
}

}  // namespace
}  // namespace diffuse
