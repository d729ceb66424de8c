// The EDM formulation (diffusion/formulation.h): its preconditioning against Karras et al. (2022)'s formulas, and an
// EDM network that is exact for data x ~ N(mu, s^2) per element, D(x_S, S) = mu + s^2 (x_S - mu) / (s^2 + S^2),
// read through our VP-view code and sampled with every sampler.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/ops.h"
#include "diffusion/formulation.h"
#include "diffusion/sampler.h"
#include "tests/diffusion/sampler_testing.h"

namespace diffuse {
namespace {

using testing::mean_of;
using testing::std_of;

constexpr double kDataMean = 0.1;
constexpr double kDataStd = 0.2;  // mean +- 4.5 std stays inside [-1, 1], where D's clipping never acts
constexpr double kSigmas[] = {0.002, 0.05, 0.5, 1.0, 7.3, 80.0};

TEST(EdmPreconditioning, CoefficientsAreKarrasFormulas) {
  const EdmPreconditioning edm{0.5, -1.2, 1.2};
  for (double s : kSigmas) {
    EXPECT_NEAR(edm.c_skip(s), 0.25 / (s * s + 0.25), 1e-15) << s;
    EXPECT_NEAR(edm.c_out(s), s * 0.5 / std::sqrt(s * s + 0.25), 1e-15) << s;
    EXPECT_NEAR(edm.c_in(s), 1.0 / std::sqrt(s * s + 0.25), 1e-15) << s;
    EXPECT_NEAR(edm.c_noise(s), std::log(s) / 4, 1e-15) << s;
    EXPECT_NEAR(edm.loss_weight(s), (s * s + 0.25) / (s * 0.5 * s * 0.5), 1e-12 * edm.loss_weight(s)) << s;
  }
  EXPECT_DOUBLE_EQ(edm.training_sigma(0.0), std::exp(-1.2));
  EXPECT_DOUBLE_EQ(edm.training_sigma(1.0), 1.0);
}

TEST(EdmPreconditioning, LossWeightOnTheNetworkOutputIsOne) {
  const Parameterization network = Parameterization::edm(EdmPreconditioning{0.7, -1.2, 1.2});
  for (double s : kSigmas) {
    const double c_out = network.preconditioning.c_out(s);
    EXPECT_NEAR(network.preconditioning.loss_weight(s) * c_out * c_out, 1.0, 1e-12) << s;
    EXPECT_EQ(training_weight(network, LossWeighting::Simple, level_at_ve_sigma(s), kDefaultMinSnrGamma), 1.0);
  }
}

TEST(EdmPreconditioning, NetworkTimeMapsLnSigmaFromMinus8To8OntoTheEmbeddingsRange) {
  const EdmPreconditioning edm;
  EXPECT_NEAR(edm_network_time(edm.c_noise(std::exp(-8.0))), 0.0, 1e-4);
  EXPECT_NEAR(edm_network_time(edm.c_noise(1.0)), 500.0, 1e-4);
  EXPECT_NEAR(edm_network_time(edm.c_noise(std::exp(8.0))), 1000.0, 1e-4);
  const Parameterization network = Parameterization::edm(edm);
  EXPECT_NEAR(network_time(network, level_at_ve_sigma(80.0)), 250 * std::log(80.0) / 4 + 500, 1e-3);
}

TEST(EdmPreconditioning, TrainingTargetIsTheOutputWhoseDenoisedEstimateIsTheData) {
  const Parameterization network = Parameterization::edm(EdmPreconditioning{});
  const double x = 0.3, eps = -1.1;
  for (double s : kSigmas) {
    const NoiseLevel level = level_at_ve_sigma(s);
    EXPECT_NEAR(level.sigma / level.alpha, s, 1e-12 * s);
    const double z = level.alpha * x + level.sigma * eps;
    const Mix target = training_target(network, level);
    const double output = target.first * x + target.second * eps;
    const Mix x0 = x0_from_network(network, level);
    EXPECT_NEAR(x0.first * z + x0.second * output, x, 1e-12) << s;
    // The network sees c_in x_S.
    EXPECT_NEAR(network_input_scale(network, level) * z, network.preconditioning.c_in(s) * (x + s * eps), 1e-12);
  }
}

TEST(EdmPreconditioning, VpParameterizationIsThePrediction) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  const NoiseLevel level = schedule.at_time(0.4);
  const Parameterization network(Prediction::V);
  EXPECT_EQ(network_input_scale(network, level), 1.0);
  EXPECT_EQ(network_time(network, level), level.network_time);
  EXPECT_EQ(x0_from_network(network, level).first, x0_from_output(Prediction::V, level).first);
  EXPECT_EQ(training_target(network, level).second, prediction_target(Prediction::V, level).second);
  EXPECT_EQ(training_weight(network, LossWeighting::SnrPlusOne, level, kDefaultMinSnrGamma),
            output_loss_weight(Prediction::V, LossWeighting::SnrPlusOne, level, kDefaultMinSnrGamma));
}

// The exact F for Gaussian data: the network sees c_in x_S and 250 ln(S) / 4 + 500, and F = (D - c_skip x_S) / c_out.
Denoiser exact_edm_network(const EdmPreconditioning& edm) {
  return [edm](const Tensor& input, const Tensor& time, const Tensor&, const Tensor& out) {
    for (int64_t n = 0; n < input.dim(0); ++n) {
      const double s = std::exp((time.f32()[n] - 500.0) / 62.5);
      const int64_t per_sample = input.numel() / input.dim(0);
      for (int64_t i = n * per_sample; i < (n + 1) * per_sample; ++i) {
        const double x_s = input.f32()[i] / edm.c_in(s);
        const double denoised = kDataMean + kDataStd * kDataStd * (x_s - kDataMean) / (kDataStd * kDataStd + s * s);
        out.f32()[i] = static_cast<float>((denoised - edm.c_skip(s) * x_s) / edm.c_out(s));
      }
    }
  };
}

TEST(EdmPreconditioning, ExactNetworkReadThroughOurCodeIsTheAnalyticDenoiser) {
  const EdmPreconditioning edm;
  const Parameterization network = Parameterization::edm(edm);
  const Denoiser exact = exact_edm_network(edm);
  for (double s : {0.01, 0.3, 2.0, 40.0}) {
    const NoiseLevel level = level_at_ve_sigma(s);
    const float x_s = 0.8f;
    const Tensor z = from_vector({static_cast<float>(level.alpha * x_s)}, {1, 1, 1, 1});
    const Tensor input = Tensor::empty(z.shape()), out = Tensor::empty(z.shape());
    exact(network_input(network, level, z, input), from_vector({network_time(network, level)}, {1}), Tensor(), out);
    const Mix x0 = x0_from_network(network, level);
    const double denoised = x0.first * z.f32()[0] + x0.second * out.f32()[0];
    EXPECT_NEAR(denoised, kDataMean + kDataStd * kDataStd * (x_s - kDataMean) / (kDataStd * kDataStd + s * s), 2e-5)
        << s;
  }
}

// Every sampler on an EDM model draws from the data distribution: the ODE samplers on EDM's default grid
// (0.002..80), ddim and ddpm on the continuous schedule's time grid at its VE sigmas.
class EdmSampling : public ::testing::TestWithParam<SamplerKind> {};

TEST_P(EdmSampling, ReachesTheDataDistribution) {
  const SamplerKind kind = GetParam();
  const EdmPreconditioning edm;
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  SamplerOptions options;
  options.sampler = kind;
  // Enough steps for the discretisation error to be well under the tolerances (first-order euler, and ddim on the
  // uniform time grid, need more).
  options.steps = kind == SamplerKind::kHeun || kind == SamplerKind::kDpmpp2m ? 64 : 256;
  options.eta = kind == SamplerKind::kDdpm ? 1.0 : 0.0;
  options.seed = 7;
  const std::vector<float> values = to_vector(
      sample_images(schedule, Parameterization::edm(edm), exact_edm_network(edm), {1000, 2, 2, 1}, Tensor(), options));
  // 4000 draws: the mean's sampling error is s / 63 = 0.0032 and the std's about 1.1%.
  EXPECT_NEAR(mean_of(values), kDataMean, 0.015);
  EXPECT_NEAR(std_of(values), kDataStd, 0.05 * kDataStd);
}

INSTANTIATE_TEST_SUITE_P(AllSamplers, EdmSampling,
                         ::testing::Values(SamplerKind::kDdpm, SamplerKind::kDdim, SamplerKind::kEuler,
                                           SamplerKind::kHeun, SamplerKind::kDpmpp2m),
                         [](const auto& info) { return std::string(name_of(kSamplerNames, info.param)); });

}  // namespace
}  // namespace diffuse
