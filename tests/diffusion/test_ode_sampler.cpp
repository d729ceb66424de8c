// The ODE samplers (euler, heun, dpmpp_2m) against a denoiser that is exact
// for data x ~ N(mu, s^2) per element: E[x | z] = mu + alpha s^2 (z - alpha mu) / (alpha^2 s^2 + sigma^2).
// In the VE view x = z / alpha with noise level S = sigma / alpha, D(x, S) = mu + s^2 (x - mu) / (s^2 + S^2), and the
// probability-flow ODE dx/dS = (x - D) / S = (x - mu) S / (s^2 + S^2) has the solution
// x(S) = mu + (x(S_max) - mu) sqrt((s^2 + S^2) / (s^2 + S_max^2)).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/philox.h"
#include "diffusion/ode_sampler.h"
#include "diffusion/sampler.h"
#include "tests/diffusion/sampler_testing.h"

namespace diffuse {
namespace {

using testing::expect_keyed_by_global_index;
using testing::mean_of;
using testing::std_of;

constexpr double kDataMean = 0.1;
constexpr double kDataStd = 0.2;  // mean +- 4.5 std stays inside [-1, 1], where D's clipping never acts

// The level the sampler asked for, from the network time alone: 1000 t for the continuous schedule; for discrete
// ones the step index, fractional between steps, interpolated in log VE sigma.
NoiseLevel level_at(const NoiseSchedule& schedule, float network_time) {
  if (schedule.is_continuous()) return schedule.at_time(network_time / 1000.0);
  const auto log_ve_sigma = [&](int i) {
    const NoiseLevel level = schedule.training_level((i + 0.5) / schedule.timesteps());
    return std::log(level.sigma / level.alpha);
  };
  const int below = std::min(static_cast<int>(network_time), schedule.timesteps() - 2);
  const double fraction = network_time - below;
  const double ve_sigma = std::exp((1 - fraction) * log_ve_sigma(below) + fraction * log_ve_sigma(below + 1));
  NoiseLevel level;
  level.alpha = 1 / std::sqrt(1 + ve_sigma * ve_sigma);
  level.sigma = ve_sigma * level.alpha;
  return level;
}

// The exact network output for `prediction`, from the exact E[x | z] and E[eps | z] = (z - alpha E[x | z]) / sigma.
Denoiser exact_gaussian_denoiser(const NoiseSchedule& schedule, Prediction prediction, int* calls = nullptr) {
  return [&schedule, prediction, calls](const Tensor& z, const Tensor& time, const Tensor&, const Tensor& out) {
    if (calls) ++*calls;
    const NoiseLevel level = level_at(schedule, time.f32()[0]);
    const double s2 = kDataStd * kDataStd;
    const double gain = level.alpha * s2 / (level.alpha * level.alpha * s2 + level.sigma * level.sigma);
    for (int64_t i = 0; i < z.numel(); ++i) {
      const double x = kDataMean + gain * (z.f32()[i] - level.alpha * kDataMean);
      const double eps = (z.f32()[i] - level.alpha * x) / level.sigma;
      const double output = prediction == Prediction::X0    ? x
                            : prediction == Prediction::Eps ? eps
                                                            : level.alpha * eps - level.sigma * x;
      out.f32()[i] = static_cast<float>(output);
    }
  };
}

constexpr SamplerKind kOdeSamplers[] = {SamplerKind::kEuler, SamplerKind::kHeun, SamplerKind::kDpmpp2m};

TEST(KarrasSigmas, RunFromSigmaMaxToSigmaMinEvenlyInSigmaToTheOneOverRho) {
  const std::vector<double> sigmas = karras_sigmas(5, 0.002, 80.0, 7.0);
  ASSERT_EQ(sigmas.size(), 6u);
  EXPECT_DOUBLE_EQ(sigmas[0], 80.0);
  EXPECT_NEAR(sigmas[4], 0.002, 1e-15);
  EXPECT_EQ(sigmas[5], 0.0);
  for (int i = 1; i < 4; ++i)
    EXPECT_NEAR(std::pow(sigmas[i], 1 / 7.0) - std::pow(sigmas[i - 1], 1 / 7.0),
                (std::pow(0.002, 1 / 7.0) - std::pow(80.0, 1 / 7.0)) / 4, 1e-12);
  EXPECT_EQ(karras_sigmas(1, 0.002, 80.0, 7.0), (std::vector<double>{80.0, 0.0}));
}

TEST(OdeSampler, NfeIsWhatTheStepsCost) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  for (SamplerKind kind : kOdeSamplers) {
    SamplerOptions options;
    options.sampler = kind;
    options.steps = 5;
    int calls = 0;
    sample_images(schedule, Prediction::X0, exact_gaussian_denoiser(schedule, Prediction::X0, &calls), {2, 2, 2, 1},
                  Tensor(), options);
    EXPECT_EQ(calls, network_evaluations(kind, 5)) << name_of(kSamplerNames, kind);
    EXPECT_EQ(network_evaluations(kind, 5), kind == SamplerKind::kHeun ? 9 : 5);
    // Guidance runs the network twice per evaluation.
    Tensor labels = Tensor::empty({2}, DType::I32);
    labels.i32()[0] = 0;
    labels.i32()[1] = 1;
    options.guidance = 1.5;
    options.null_label = 2;
    calls = 0;
    sample_images(schedule, Prediction::X0, exact_gaussian_denoiser(schedule, Prediction::X0, &calls), {2, 2, 2, 1},
                  labels, options);
    EXPECT_EQ(calls, 2 * network_evaluations(kind, 5)) << name_of(kSamplerNames, kind);
    // Churn adds noise, not evaluations.
    if (kind == SamplerKind::kDpmpp2m) continue;
    options.s_churn = 40;
    calls = 0;
    sample_images(schedule, Prediction::X0, exact_gaussian_denoiser(schedule, Prediction::X0, &calls), {2, 2, 2, 1},
                  labels, options);
    EXPECT_EQ(calls, 2 * network_evaluations(kind, 5)) << name_of(kSamplerNames, kind) << " with churn";
  }
}

TEST(OdeSampler, SamplesAreKeyedByGlobalIndex) {
  const NoiseSchedule schedule(ScheduleKind::Linear, 1000);
  const Denoiser denoiser = exact_gaussian_denoiser(schedule, Prediction::Eps);
  const auto draw = [&](const Shape& shape, const SamplerOptions& options) {
    return sample_images(schedule, Prediction::Eps, denoiser, shape, Tensor(), options);
  };
  for (SamplerKind kind : kOdeSamplers) {
    SamplerOptions options;
    options.sampler = kind;
    options.steps = 4;
    options.seed = 11;
    expect_keyed_by_global_index(options, draw);
  }
}

// Churn's noise too is keyed by (seed, step, global sample).
TEST(OdeSampler, ChurnedSamplesAreKeyedByGlobalIndex) {
  const NoiseSchedule schedule(ScheduleKind::Linear, 1000);
  const Denoiser denoiser = exact_gaussian_denoiser(schedule, Prediction::Eps);
  const auto draw = [&](const Shape& shape, const SamplerOptions& options) {
    return sample_images(schedule, Prediction::Eps, denoiser, shape, Tensor(), options);
  };
  for (SamplerKind kind : {SamplerKind::kEuler, SamplerKind::kHeun}) {
    SamplerOptions options;
    options.sampler = kind;
    options.steps = 4;
    options.seed = 11;
    options.s_churn = 10;
    expect_keyed_by_global_index(options, draw);
  }
}

// s_churn 0, or a churn window [s_tmin, s_tmax] that holds no step's sigma, is the deterministic sampler bit for
// bit; churn inside the window changes the samples.
TEST(OdeSampler, ChurnOnlyActsWhenOnAndInsideItsWindow) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  const Denoiser denoiser = exact_gaussian_denoiser(schedule, Prediction::V);
  for (SamplerKind kind : {SamplerKind::kEuler, SamplerKind::kHeun}) {
    SamplerOptions options;
    options.sampler = kind;
    options.steps = 6;
    options.sigma_min = 0.002;
    options.sigma_max = 80.0;
    options.seed = 3;
    const auto draw = [&](const SamplerOptions& with) {
      return to_vector(sample_images(schedule, Prediction::V, denoiser, {2, 3, 3, 1}, Tensor(), with));
    };
    const std::vector<float> deterministic = draw(options);
    SamplerOptions churn_off = options;
    churn_off.s_noise = 0.5;
    churn_off.s_tmin = 1.0;
    EXPECT_EQ(draw(churn_off), deterministic) << name_of(kSamplerNames, kind);
    SamplerOptions outside_window = options;
    outside_window.s_churn = 40;
    outside_window.s_tmax = 0.001;
    EXPECT_EQ(draw(outside_window), deterministic) << name_of(kSamplerNames, kind);
    SamplerOptions churned = outside_window;
    churned.s_tmax = 1.0;
    EXPECT_NE(draw(churned), deterministic) << name_of(kSamplerNames, kind);
  }
}

TEST(OdeSampler, ChurnIsEulersAndHeunsAlone) {
  const NoiseSchedule schedule(ScheduleKind::Linear, 1000);
  for (SamplerKind kind : {SamplerKind::kDdpm, SamplerKind::kDdim, SamplerKind::kDpmpp2m}) {
    SamplerOptions options;
    options.sampler = kind;
    options.steps = 3;
    options.s_churn = 1;
    try {
      sample_images(schedule, Prediction::Eps, exact_gaussian_denoiser(schedule, Prediction::Eps), {1, 2, 2, 1},
                    Tensor(), options);
      ADD_FAILURE() << name_of(kSamplerNames, kind) << " accepted churn";
    } catch (const Error& error) {
      const std::string expected =
          std::string("churn (s_churn 1) applies to the euler and heun samplers only, not to ") +
          name_of(kSamplerNames, kind);
      EXPECT_EQ(std::string(error.what()).rfind(expected, 0), 0u) << error.what();
    }
  }
}

// Every sampler, with every prediction and on a discrete and the continuous schedule, draws from N(mu, s^2) with
// the exact denoiser on the default grid (the schedule's whole range).
class OdeSamplerDistribution : public ::testing::TestWithParam<std::tuple<SamplerKind, Prediction, ScheduleKind>> {};

TEST_P(OdeSamplerDistribution, ReachesTheDataDistribution) {
  const auto [kind, prediction, schedule_kind] = GetParam();
  const NoiseSchedule schedule(schedule_kind, 1000);
  SamplerOptions options;
  options.sampler = kind;
  // Enough steps for the discretisation error to be well under the tolerances (first-order euler needs more).
  options.steps = kind == SamplerKind::kEuler ? 256 : 64;
  options.seed = 7;
  const std::vector<float> values = to_vector(sample_images(
      schedule, prediction, exact_gaussian_denoiser(schedule, prediction), {1000, 2, 2, 1}, Tensor(), options));
  // 4000 draws: the mean's sampling error is s / 63 = 0.0032 and the std's about 1.1%.
  EXPECT_NEAR(mean_of(values), kDataMean, 0.015);
  EXPECT_NEAR(std_of(values), kDataStd, 0.05 * kDataStd);
}

// Heun with EDM's churn, which replaces part of the noise on each step with fresh noise, still draws from N(mu, s^2)
// with the exact denoiser. Churn widens each step, so the grid is finer than the deterministic samplers' above:
// at S_churn 40 (gamma 0.31 on every step) 128 steps leave a bias in the std of about 2%, 64 steps (gamma at its cap)
// about 4%, and 1024 steps none that 16000 draws resolve.
class ChurnedHeunDistribution : public ::testing::TestWithParam<ScheduleKind> {};

TEST_P(ChurnedHeunDistribution, ReachesTheDataDistribution) {
  const NoiseSchedule schedule(GetParam(), 1000);
  SamplerOptions options;
  options.sampler = SamplerKind::kHeun;
  options.steps = 128;
  options.s_churn = 40;
  options.seed = 7;
  const std::vector<float> values = to_vector(sample_images(
      schedule, Prediction::X0, exact_gaussian_denoiser(schedule, Prediction::X0), {4000, 2, 2, 1}, Tensor(), options));
  // 16000 draws: the mean's sampling error is s / 126 = 0.0016 and the std's about 0.6%.
  EXPECT_NEAR(mean_of(values), kDataMean, 0.01);
  EXPECT_NEAR(std_of(values), kDataStd, 0.05 * kDataStd);
}

INSTANTIATE_TEST_SUITE_P(BothScheduleKinds, ChurnedHeunDistribution,
                         ::testing::Values(ScheduleKind::Linear, ScheduleKind::CosineContinuous),
                         [](const auto& info) { return std::string(name_of(kScheduleNames, info.param)); });

// Two churned steps of euler and of heun on the grid 1, 0.5, 0 against Algorithm 2 written out per element in double
// precision with the exact D(x, S) = mu + s^2 (x - mu) / (s^2 + S^2): the noise raised to sigma_hat by the Philox
// draws {seed, kPurposeChurn, step, sample} scaled by s_noise, and each step taken from sigma_hat.
TEST(OdeSampler, ChurnedStepsFollowAlgorithmTwo) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  const auto exact_d = [](double x, double S) {
    const double s2 = kDataStd * kDataStd;
    return kDataMean + s2 * (x - kDataMean) / (s2 + S * S);
  };
  for (SamplerKind kind : {SamplerKind::kEuler, SamplerKind::kHeun}) {
    SamplerOptions options;
    options.sampler = kind;
    options.steps = 2;
    options.sigma_min = 0.5;
    options.sigma_max = 1.0;
    options.s_churn = 0.5;  // gamma = 0.25 on both steps
    options.s_noise = 0.7;
    options.seed = 13;
    const Shape shape{3, 2, 2, 1};
    const std::vector<float> sampled = to_vector(sample_images(
        schedule, Prediction::X0, exact_gaussian_denoiser(schedule, Prediction::X0), shape, Tensor(), options));
    Tensor start = Tensor::empty(shape), churn0 = Tensor::empty(shape), churn1 = Tensor::empty(shape);
    ops::fill_normal(start, options.seed, kPurposeSampler, 0, 0);
    ops::fill_normal(churn0, options.seed, kPurposeChurn, 0, 0);
    ops::fill_normal(churn1, options.seed, kPurposeChurn, 1, 0);
    for (int64_t i = 0; i < start.numel(); ++i) {
      const auto churned = [&](double x, double sigma, float noise) {
        const double sigma_hat = 1.25 * sigma;
        return std::pair{x + std::sqrt(sigma_hat * sigma_hat - sigma * sigma) * 0.7 * noise, sigma_hat};
      };
      auto [x, sigma_hat] = churned(1.0 * start.f32()[i], 1.0, churn0.f32()[i]);
      const double slope = (x - exact_d(x, sigma_hat)) / sigma_hat;
      double next_x = x + (0.5 - sigma_hat) * slope;
      if (kind == SamplerKind::kHeun)
        next_x = x + (0.5 - sigma_hat) * (slope + (next_x - exact_d(next_x, 0.5)) / 0.5) / 2;
      std::tie(x, sigma_hat) = churned(next_x, 0.5, churn1.f32()[i]);
      EXPECT_NEAR(sampled[static_cast<size_t>(i)], exact_d(x, sigma_hat), 1e-5)
          << name_of(kSamplerNames, kind) << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllSamplers, OdeSamplerDistribution,
                         ::testing::Combine(::testing::ValuesIn(kOdeSamplers),
                                            ::testing::Values(Prediction::Eps, Prediction::X0, Prediction::V),
                                            ::testing::Values(ScheduleKind::Linear, ScheduleKind::CosineContinuous)),
                         [](const auto& info) {
                           return std::string(name_of(kSamplerNames, std::get<0>(info.param))) + "_" +
                                  prediction_name(std::get<1>(info.param)) + "_" +
                                  name_of(kScheduleNames, std::get<2>(info.param));
                         });

// The largest error over 64 elements of `steps` steps on EDM's grid (sigma 80 to 0.002) against the exact ODE
// solution from the same noise to sigma_min followed by the last step every sampler takes, x = D(x, sigma_min).
double endpoint_error(SamplerKind kind, int steps) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  SamplerOptions options;
  options.sampler = kind;
  options.steps = steps;
  options.sigma_min = 0.002;
  options.sigma_max = 80.0;
  options.seed = 5;
  const Shape shape{4, 4, 4, 1};
  const std::vector<float> sampled = to_vector(sample_images(
      schedule, Prediction::X0, exact_gaussian_denoiser(schedule, Prediction::X0), shape, Tensor(), options));
  Tensor noise = Tensor::empty(shape);
  ops::fill_normal(noise, options.seed, kPurposeSampler, 0, 0);
  const double s2 = kDataStd * kDataStd, end2 = options.sigma_min * options.sigma_min;
  const double shrink = std::sqrt((s2 + end2) / (s2 + options.sigma_max * options.sigma_max));
  double largest = 0;
  for (int64_t i = 0; i < noise.numel(); ++i) {
    const double x_end = kDataMean + (options.sigma_max * noise.f32()[i] - kDataMean) * shrink;
    const double exact = kDataMean + s2 * (x_end - kDataMean) / (s2 + end2);
    largest = std::max(largest, std::abs(sampled[static_cast<size_t>(i)] - exact));
  }
  return largest;
}

// The least-squares slope of -log(error) against log(steps) over 16, 32, 64, 128 steps: the solver's order. (At 8
// steps on this grid dpmpp_2m is not yet in its asymptotic range.)
double convergence_order(SamplerKind kind) {
  std::vector<double> x, y;
  for (int steps : {16, 32, 64, 128}) {
    const double error = endpoint_error(kind, steps);
    std::printf("  %s %3d steps: error %.3g\n", name_of(kSamplerNames, kind), steps, error);
    x.push_back(std::log(steps));
    y.push_back(-std::log(error));
  }
  const double mean_x = (x[0] + x[1] + x[2] + x[3]) / 4, mean_y = (y[0] + y[1] + y[2] + y[3]) / 4;
  double covariance = 0, variance = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    covariance += (x[i] - mean_x) * (y[i] - mean_y);
    variance += (x[i] - mean_x) * (x[i] - mean_x);
  }
  return covariance / variance;
}

TEST(OdeSampler, EulerConvergesAtFirstOrder) { EXPECT_NEAR(convergence_order(SamplerKind::kEuler), 1.0, 0.25); }

TEST(OdeSampler, HeunConvergesAtSecondOrder) { EXPECT_NEAR(convergence_order(SamplerKind::kHeun), 2.0, 0.35); }

TEST(OdeSampler, DpmSolverPlusPlus2mConvergesAtSecondOrder) {
  EXPECT_NEAR(convergence_order(SamplerKind::kDpmpp2m), 2.0, 0.35);
}

}  // namespace
}  // namespace diffuse
