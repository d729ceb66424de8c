// Consistency models' maths (diffusion/consistency.h): the boundary condition, the teacher's ODE step against the
// exact solution for Gaussian data, iCT's curriculum and level distribution.
//
// For data x ~ N(0, sd^2) per element the denoiser is D(x, S) = sd^2 x / (sd^2 + S^2) at VE level S, and the
// probability-flow ODE dx/dS = (x - D) / S has the solution x(S') = x(S) sqrt((sd^2 + S'^2) / (sd^2 + S^2)).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/philox.h"
#include "diffusion/consistency.h"
#include "diffusion/distillation.h"
#include "diffusion/ode_sampler.h"
#include "diffusion/sampler.h"
#include "tests/diffusion/sampler_testing.h"

namespace diffuse {
namespace {

constexpr double kSigmaData = 0.5;
constexpr double kPi = 3.14159265358979323846;

std::vector<Parameterization> every_formulation() {
  return {Parameterization(Prediction::Eps), Parameterization(Prediction::X0), Parameterization(Prediction::V),
          Parameterization::edm(EdmPreconditioning{})};
}

TEST(ConsistencyGrid, IsTheKarrasGridAscendingFromExactlySigmaMin) {
  const std::vector<double> sigmas = consistency_sigmas(18, 0.002, 80.0, 7.0);
  const std::vector<double> karras = karras_sigmas(18, 0.002, 80.0, 7.0);
  ASSERT_EQ(sigmas.size(), 18u);
  EXPECT_EQ(sigmas.front(), 0.002);
  EXPECT_DOUBLE_EQ(sigmas.back(), 80.0);
  for (size_t i = 0; i < sigmas.size(); ++i) EXPECT_NEAR(sigmas[i], karras[17 - i], 1e-12 * sigmas[i]) << i;
  EXPECT_THROW(consistency_sigmas(1, 0.002, 80.0, 7.0), Error);
}

TEST(ConsistencyFunction, IsTheIdentityAtSigmaMinExactly) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  for (const Parameterization& network : every_formulation()) {
    const Mix f = consistency_output(network, schedule.at_ve_sigma(0.002), 0.002);
    EXPECT_EQ(f.first, 1.0);
    EXPECT_EQ(f.second, 0.0);
    // Through the tensors: whatever the network says, f(x, sigma_min) = x to the bit.
    const Tensor x = from_vector({0.25f, -0.7f, 1.3f}, {3, 1}), out = from_vector({5.0f, -9.0f, 2.0f}, {3, 1});
    const Tensor f_x = Tensor::empty({3, 1});
    ops::combine_per_sample(x, from_vector(std::vector<float>(3, static_cast<float>(f.first)), {3}), out,
                            from_vector(std::vector<float>(3, static_cast<float>(f.second)), {3}), f_x);
    EXPECT_EQ(to_vector(f_x), to_vector(x));
  }
}

TEST(ConsistencyFunction, IsTheDenoiserAtHighNoise) {
  // f = c_skip x + (1 - c_skip) D, and c_skip(80) = 0.25 / (80^2 + 0.25) ~ 4e-5.
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  for (const Parameterization& network : every_formulation()) {
    const NoiseLevel level = schedule.at_ve_sigma(80.0);
    const Mix f = consistency_output(network, level, 0.002);
    const Mix d = x0_from_network(network, level);  // on z = alpha x
    const double c_skip = consistency_c_skip(80.0, 0.002, kSigmaData);
    EXPECT_LT(c_skip, 1e-4);
    EXPECT_NEAR(f.first, c_skip + (1 - c_skip) * d.first * level.alpha, 1e-12);
    EXPECT_NEAR(f.second, d.second, 1e-4 * std::abs(d.second));
  }
}

// An EDM network whose raw output is 0 has D = c_skip x: exactly the Gaussian data's denoiser when sigma_data = sd.
Denoiser zero_network(int* calls) {
  return [calls](const Tensor&, const Tensor&, const Tensor&, const Tensor& out) {
    ++*calls;
    Tensor zeros = out;
    fill(zeros, 0.0f);
  };
}

// A VP x0 network on the cosine_continuous schedule that is exact for Gaussian data, per sample: the network time
// 1000 t gives S = tan(pi t / 2), and its input is z = alpha x.
Denoiser exact_x0_network() {
  return [](const Tensor& z, const Tensor& time, const Tensor&, const Tensor& out) {
    const int64_t n = z.dim(0), elements = z.numel() / n;
    for (int64_t s = 0; s < n; ++s) {
      const double ve = std::tan(kPi * time.f32()[s] / 2000.0), alpha = 1.0 / std::sqrt(1.0 + ve * ve);
      const double gain = kSigmaData * kSigmaData / (kSigmaData * kSigmaData + ve * ve) / alpha;
      for (int64_t i = s * elements; i < (s + 1) * elements; ++i) out.f32()[i] = static_cast<float>(gain * z.f32()[i]);
    }
  };
}

// The largest relative error of one teacher step per level pair of an N-level grid, all pairs in one batch.
double worst_step_error(const Denoiser& run_network, const Parameterization& network, int levels) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  const std::vector<double> sigmas = consistency_sigmas(levels, 0.002, 80.0, 7.0);
  std::vector<double> from, to;
  for (size_t i = 0; i + 1 < sigmas.size(); ++i) {
    from.push_back(sigmas[i + 1]);
    to.push_back(sigmas[i]);
  }
  const int64_t n = static_cast<int64_t>(from.size());
  Tensor x = Tensor::empty({n, 1});
  for (int64_t s = 0; s < n; ++s) x.f32()[s] = static_cast<float>(from[s]);  // a typical value at that level
  const Tensor out = Tensor::empty({n, 1});
  teacher_ode_step(ve_denoiser(run_network, network, schedule, Tensor()), consistency_teacher_solver(network), x, from,
                   to, out);
  double worst = 0.0;
  for (int64_t s = 0; s < n; ++s) {
    const double sd2 = kSigmaData * kSigmaData;
    const double exact = from[s] * std::sqrt((sd2 + to[s] * to[s]) / (sd2 + from[s] * from[s]));
    worst = std::max(worst, std::abs(out.f32()[s] - exact) / exact);
  }
  return worst;
}

TEST(ConsistencyTeacher, EdmHeunStepMatchesTheExactOdeStepToThirdOrder) {
  const Parameterization edm = Parameterization::edm(EdmPreconditioning{});
  ASSERT_EQ(consistency_teacher_solver(edm), TeacherSolver::kHeun);
  int calls = 0;
  const double coarse = worst_step_error(zero_network(&calls), edm, 41);
  EXPECT_EQ(calls, 2);  // Heun: two evaluations, every level pair in the one batch
  const double fine = worst_step_error(zero_network(&calls), edm, 81);
  // Heun's local error is O(h^3): halving the steps divides it by about 8; on the fine grid it is already small.
  EXPECT_GT(coarse / fine, 6.0);
  EXPECT_LT(fine, 2e-4);
  EXPECT_LT(worst_step_error(zero_network(&calls), edm, 1281), 1e-6);
}

TEST(ConsistencyTeacher, VpStepIsTheDdimStepToSecondOrder) {
  const Parameterization vp(Prediction::X0);
  ASSERT_EQ(consistency_teacher_solver(vp), TeacherSolver::kEuler);
  const double coarse = worst_step_error(exact_x0_network(), vp, 41);
  const double fine = worst_step_error(exact_x0_network(), vp, 81);
  // Euler's (DDIM's) local error is O(h^2): halving the steps divides it by about 4.
  EXPECT_GT(coarse / fine, 3.0);
  EXPECT_LT(coarse / fine, 6.0);
  EXPECT_LT(worst_step_error(exact_x0_network(), vp, 1281), 1e-4);
}

TEST(ConsistencyTeacher, VpStepEqualsTheDdimStepOfTheSchedule) {
  // In the VE frame Euler's step is DDIM's: z' = alpha' x_hat + sigma' eps_hat for the exact Gaussian x_hat.
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  const Parameterization vp(Prediction::X0);
  const Tensor x = from_vector({1.7f}, {1, 1}), out = Tensor::empty({1, 1});
  const double from = 3.0, to = 2.0;
  const Denoiser run = exact_x0_network();
  teacher_ode_step(ve_denoiser(run, vp, schedule, Tensor()), TeacherSolver::kEuler, x, {from}, {to}, out);
  const NoiseLevel now = level_at_ve_sigma(from), next = level_at_ve_sigma(to);
  const double x_hat = kSigmaData * kSigmaData / (kSigmaData * kSigmaData + from * from) * 1.7;
  const Mix step = ddim_step(now, next);
  const double z_next = step.first * now.alpha * 1.7 + step.second * x_hat;
  EXPECT_NEAR(out.f32()[0], z_next / next.alpha, 1e-5);
}

TEST(ConsistencyCurriculum, DoublesFromS0ToS1InEqualStages) {
  const ConsistencyCurriculum curriculum;  // s0 10, s1 1280: 8 stages
  const int64_t total = 800000;            // K' = 100000
  EXPECT_EQ(curriculum.levels_at(0, total), 11);
  EXPECT_EQ(curriculum.levels_at(99999, total), 11);
  EXPECT_EQ(curriculum.levels_at(100000, total), 21);
  EXPECT_EQ(curriculum.levels_at(250000, total), 41);
  EXPECT_EQ(curriculum.levels_at(699999, total), 641);
  EXPECT_EQ(curriculum.levels_at(700000, total), 1281);
  EXPECT_EQ(curriculum.levels_at(799999, total), 1281);
  EXPECT_EQ((ConsistencyCurriculum{4, 16}.levels_at(5, 9)), 9);  // K' = 3: steps 3..5 have 8 + 1 levels
  EXPECT_EQ((ConsistencyCurriculum{4, 16}.levels_at(2, 9)), 5);
  EXPECT_EQ((ConsistencyCurriculum{4, 16}.levels_at(6, 9)), 17);
}

TEST(ConsistencyLevels, LognormalPairProbabilitiesSumToOneAndPeakNearExpPMean) {
  const std::vector<double> sigmas = consistency_sigmas(1281, 0.002, 80.0, 7.0);
  const std::vector<double> p = lognormal_pair_probabilities(sigmas, -1.1, 2.0);
  ASSERT_EQ(p.size(), 1280u);
  double total = 0.0, mean_log = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    EXPECT_GT(p[i], 0.0) << i;
    total += p[i];
    mean_log += p[i] * 0.5 * (std::log(sigmas[i]) + std::log(sigmas[i + 1]));
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  // The truncated log-normal's mean of ln sigma: near P_mean, pulled up by the cut at ln 0.002 = -6.2.
  EXPECT_GT(mean_log, -1.1);
  EXPECT_LT(mean_log, 0.0);
}

TEST(ConsistencyLevels, DrawPairInvertsTheCumulativeProbabilities) {
  const std::vector<double> p = {0.25, 0.5, 0.25};
  EXPECT_EQ(draw_pair(p, 0.0), 0);
  EXPECT_EQ(draw_pair(p, 0.2499), 0);
  EXPECT_EQ(draw_pair(p, 0.25), 1);
  EXPECT_EQ(draw_pair(p, 0.74), 1);
  EXPECT_EQ(draw_pair(p, 0.9999999), 2);
}

TEST(PseudoHuber, CIsIctsDefaultPerSqrtDim) {
  EXPECT_DOUBLE_EQ(pseudo_huber_c(3072), 0.00054 * std::sqrt(3072.0));  // CIFAR-10: about 0.03
  EXPECT_DOUBLE_EQ(pseudo_huber_c(784, 0.001), 0.028);
}

SamplerOptions consistency_options(int steps) {
  SamplerOptions options;
  options.sampler = SamplerKind::kConsistency;
  options.steps = steps;
  options.consistency_levels = 18;
  options.seed = 11;
  return options;
}

TEST(ConsistencySampler, EvaluatesAtEvenlySpacedGridIndicesFromSigmaMax) {
  const std::vector<double> grid = consistency_sigmas(18, 0.002, 80.0, 7.0);
  EXPECT_EQ(consistency_sampling_sigmas(grid, consistency_options(1)), std::vector<double>{grid[17]});
  EXPECT_EQ(consistency_sampling_sigmas(grid, consistency_options(2)), (std::vector<double>{grid[17], grid[9]}));
  EXPECT_EQ(consistency_sampling_sigmas(grid, consistency_options(4)),
            (std::vector<double>{grid[17], grid[13], grid[9], grid[4]}));
  EXPECT_EQ(consistency_sampling_sigmas(grid, consistency_options(17)).back(), grid[1]);
  try {
    consistency_sampling_sigmas(grid, consistency_options(18));
    FAIL() << "18 steps on an 18-level grid";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("--steps 18"), std::string::npos) << error.what();
  }
}

TEST(ConsistencySampler, TakesTheIntermediateLevelsGiven) {
  const std::vector<double> grid = consistency_sigmas(18, 0.002, 80.0, 7.0);
  SamplerOptions options = consistency_options(3);
  options.consistency_sigmas = {5.0, 0.8};
  EXPECT_EQ(consistency_sampling_sigmas(grid, options), (std::vector<double>{80.0, 5.0, 0.8}));
  options.consistency_sigmas = {0.8, 5.0};  // not decreasing
  EXPECT_THROW(consistency_sampling_sigmas(grid, options), Error);
  options.consistency_sigmas = {5.0};  // one short of 3 steps
  EXPECT_THROW(consistency_sampling_sigmas(grid, options), Error);
}

// An x0 network whose output is a fixed value: one consistency step lands on clamp(a sigma_max z + b value).
TEST(ConsistencySampler, OneStepIsTheConsistencyFunctionAtSigmaMax) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  const Parameterization network(Prediction::X0);
  const Denoiser constant = [](const Tensor&, const Tensor&, const Tensor&, const Tensor& out) {
    Tensor value = out;
    fill(value, 0.3f);
  };
  const SamplerOptions options = consistency_options(1);
  const Tensor images = sample_images(schedule, network, constant, {2, 3, 3, 1}, Tensor(), options);
  Tensor z = Tensor::empty({2, 3, 3, 1});
  ops::fill_normal(z, options.seed, kPurposeSampler, 0, 0);
  const Mix f = consistency_output(network, schedule.at_ve_sigma(80.0), 0.002);
  const std::vector<float> noise = to_vector(z), drawn = to_vector(images);
  for (size_t i = 0; i < drawn.size(); ++i)
    EXPECT_NEAR(drawn[i], std::clamp(f.first * 80.0 * noise[i] + f.second * 0.3, -1.0, 1.0), 1e-5) << i;
}

// Class-conditional with guidance: the output f is built from (1 + w) o_c - w o_u, as every sampler's.
TEST(ConsistencySampler, GuidesWithTheNullLabel) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  const Parameterization network(Prediction::X0);
  // The output is 0.1 times the label: 0.1 c for class c, 0.3 for the null label 3.
  const Denoiser by_label = [](const Tensor& z, const Tensor&, const Tensor& labels, const Tensor& out) {
    const int64_t elements = z.numel() / z.dim(0);
    for (int64_t i = 0; i < z.numel(); ++i) out.f32()[i] = 0.1f * static_cast<float>(labels.i32()[i / elements]);
  };
  SamplerOptions options = consistency_options(1);
  options.guidance = 2.0;
  options.null_label = 3;
  Tensor labels = Tensor::empty({2}, DType::I32);
  labels.i32()[0] = 1;
  labels.i32()[1] = 2;
  const Tensor images = sample_images(schedule, network, by_label, {2, 1, 1, 1}, labels, options);
  Tensor z = Tensor::empty({2, 1, 1, 1});
  ops::fill_normal(z, options.seed, kPurposeSampler, 0, 0);
  const Mix f = consistency_output(network, schedule.at_ve_sigma(80.0), 0.002);
  for (int n = 0; n < 2; ++n) {
    const double guided = 3.0 * 0.1 * labels.i32()[n] - 2.0 * 0.3;
    EXPECT_NEAR(to_vector(images)[n], std::clamp(f.first * 80.0 * to_vector(z)[n] + f.second * guided, -1.0, 1.0), 1e-5)
        << n;
  }
}

TEST(ConsistencySampler, IsKeyedByGlobalSampleIndex) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  const Parameterization network = Parameterization::edm(EdmPreconditioning{});
  // A network that depends on its input, so that every step's noise shows in the samples.
  const Denoiser halve = [](const Tensor& z, const Tensor&, const Tensor&, const Tensor& out) {
    ops::scale(z, 0.5f, out);
  };
  for (int steps : {1, 3})
    testing::expect_keyed_by_global_index(consistency_options(steps), [&](const Shape& shape, const SamplerOptions& o) {
      return sample_images(schedule, network, halve, shape, Tensor(), o);
    });
}

}  // namespace
}  // namespace diffuse
