// The progressive-distillation target (diffusion/distillation.h) with a
// teacher that is exact for Gaussian data x ~ N(0, s^2) per element:
// E[x | z] = alpha s^2 z / (alpha^2 s^2 + sigma^2).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "diffusion/distillation.h"

namespace diffuse {
namespace {

constexpr double kDataStd = 0.5;
constexpr int kStudentSteps = 8;

double exact_x(const NoiseLevel& level, double z) {
  const double s2 = kDataStd * kDataStd;
  return level.alpha * s2 * z / (level.alpha * level.alpha * s2 + level.sigma * level.sigma);
}

// An exact teacher predicting v = alpha eps - sigma x, one noise level per sample (from its network time);
// it records the continuous times it was asked about, call by call.
Denoiser exact_v_teacher(const NoiseSchedule& schedule, std::vector<std::vector<double>>* calls) {
  return [&schedule, calls](const Tensor& z, const Tensor& time, const Tensor&, const Tensor& out) {
    const int64_t n = z.dim(0), per_sample = z.numel() / n;
    calls->emplace_back();
    for (int64_t i = 0; i < n; ++i) {
      const NoiseLevel level = schedule.at_time(time.f32()[i] / 1000.0);
      calls->back().push_back(level.time);
      for (int64_t k = i * per_sample; k < (i + 1) * per_sample; ++k) {
        const double x = exact_x(level, z.f32()[k]);
        const double eps = (z.f32()[k] - level.alpha * x) / level.sigma;
        out.f32()[k] = static_cast<float>(level.alpha * eps - level.sigma * x);
      }
    }
  };
}

// Two exact DDIM steps t -> t' -> t'' in double precision, written out independently of the library.
double two_teacher_steps(const DistillationLevels& l, double z) {
  const double x1 = exact_x(l.start, z);
  const double z1 = l.mid.alpha * x1 + l.mid.sigma * (z - l.start.alpha * x1) / l.start.sigma;
  const double x2 = exact_x(l.mid, z1);
  return l.end.alpha * x2 + l.end.sigma * (z1 - l.mid.alpha * x2) / l.mid.sigma;
}

struct Fixture {
  NoiseSchedule schedule{ScheduleKind::CosineContinuous, 1000};
  std::vector<DistillationLevels> levels;
  Tensor z = Tensor::empty({kStudentSteps, 3, 2, 1});
  Fixture() {
    for (int index = 1; index <= kStudentSteps; ++index)
      levels.push_back(distillation_levels(schedule, index, kStudentSteps));
    for (int64_t k = 0; k < z.numel(); ++k) z.f32()[k] = static_cast<float>(std::sin(0.7 * k + 0.3) * 1.3);
  }
};

// One student DDIM step t -> t'' that predicts x~ lands where the teacher's two steps land, at every
// index including the last (t'' = 0, the clean image).
TEST(DistillationTarget, OneStudentStepReproducesTwoTeacherSteps) {
  Fixture f;
  std::vector<std::vector<double>> calls;
  const Tensor target =
      distillation_targets(exact_v_teacher(f.schedule, &calls), Prediction::V, f.levels, f.z, Tensor());
  const int64_t per_sample = f.z.numel() / kStudentSteps;
  for (int i = 0; i < kStudentSteps; ++i) {
    const DistillationLevels& l = f.levels[static_cast<size_t>(i)];
    const Mix student = ddim_step(l.start, l.end);
    for (int64_t k = i * per_sample; k < (i + 1) * per_sample; ++k) {
      const double expected = two_teacher_steps(l, f.z.f32()[k]);
      const double reached = student.first * f.z.f32()[k] + student.second * target.f32()[k];
      EXPECT_NEAR(reached, expected, 2e-5 * (1 + std::abs(expected))) << "index " << i + 1 << " element " << k;
    }
  }
}

// The teacher is asked at t = i/N first and at t' = t - 1/(2N) second, and the student lands at
// t'' = t - 1/N: swapping t' and t'' is a known mistake that this pins down.
TEST(DistillationTarget, TeacherStepsGoFromTThroughTPrimeToTDoublePrime) {
  Fixture f;
  std::vector<std::vector<double>> calls;
  distillation_targets(exact_v_teacher(f.schedule, &calls), Prediction::V, f.levels, f.z, Tensor());
  ASSERT_EQ(calls.size(), 2u);
  for (int i = 0; i < kStudentSteps; ++i) {
    const double t = (i + 1.0) / kStudentSteps;
    EXPECT_NEAR(calls[0][static_cast<size_t>(i)], t, 1e-6);
    EXPECT_NEAR(calls[1][static_cast<size_t>(i)], t - 0.5 / kStudentSteps, 1e-6);
    EXPECT_NEAR(f.levels[static_cast<size_t>(i)].end.time, t - 1.0 / kStudentSteps, 1e-12);
    EXPECT_GT(f.levels[static_cast<size_t>(i)].mid.sigma, f.levels[static_cast<size_t>(i)].end.sigma);
  }
}

// For the last step (t'' = 0) the target is the teacher's second x estimate itself.
TEST(DistillationTarget, LastStepTargetIsTheTeachersCleanEstimate) {
  Fixture f;
  const DistillationLevels& last = f.levels.front();
  ASSERT_EQ(last.end.sigma, 0.0);
  const Mix target = distillation_target(last);
  EXPECT_EQ(target.first, 0.0);
  EXPECT_EQ(target.second, 1.0);
}

// The student's output target o* for x~: its x estimate is x~ again, and the output-space loss weight
// turns |o - o*|^2 into w(SNR) |x_hat - x~|^2, for both predictions that distillation accepts.
TEST(DistillationTarget, StudentOutputTargetMapsBackToTheXTarget) {
  const NoiseSchedule schedule(ScheduleKind::CosineContinuous, 1000);
  for (const Prediction prediction : {Prediction::V, Prediction::X0}) {
    for (const double t : {0.05, 0.5, 0.97, 1.0}) {
      const NoiseLevel level = schedule.at_time(t);
      const double z = 0.8, x_target = -0.35, output = 0.3;  // any student output
      const Mix target = student_output_target(prediction, level);
      const double o_star = target.first * z + target.second * x_target;
      const Mix x_mix = x0_from_output(prediction, level);
      EXPECT_NEAR(x_mix.first * z + x_mix.second * o_star, x_target, 1e-9) << prediction_name(prediction) << " t " << t;
      for (const LossWeighting weighting : {LossWeighting::SnrTruncated, LossWeighting::SnrPlusOne}) {
        const double x_weight = weighting == LossWeighting::SnrTruncated ? std::max(level.snr(), 1.0) : level.snr() + 1;
        const double x_hat = x_mix.first * z + x_mix.second * output;
        const double output_loss = output_loss_weight(prediction, weighting, level, kDefaultMinSnrGamma) *
                                   (output - o_star) * (output - o_star);
        EXPECT_NEAR(output_loss, x_weight * (x_hat - x_target) * (x_hat - x_target), 1e-9 * (1 + x_weight))
            << prediction_name(prediction) << " t " << t;
      }
    }
  }
}

TEST(DistillationTarget, ContinuousScheduleIsRequired) {
  const NoiseSchedule linear(ScheduleKind::Linear, 1000);
  EXPECT_THROW(distillation_levels(linear, 1, 4), Error);
  const NoiseSchedule continuous(ScheduleKind::CosineContinuous, 1000);
  EXPECT_THROW(distillation_levels(continuous, 0, 4), Error);
  EXPECT_THROW(distillation_levels(continuous, 5, 4), Error);
}

// An exact EDM teacher (diffusion/formulation.h): it sees c_in x_S and 250 ln(S) / 4 + 500, and outputs
// F = (D - c_skip x_S) / c_out with D = E[x | x_S] = s^2 x_S / (s^2 + S^2).
Denoiser exact_edm_teacher(const EdmPreconditioning& edm) {
  return [edm](const Tensor& input, const Tensor& time, const Tensor&, const Tensor& out) {
    const int64_t n = input.dim(0), per_sample = input.numel() / n;
    for (int64_t i = 0; i < n; ++i) {
      const double s = std::exp((time.f32()[i] - 500.0) / 62.5);
      for (int64_t k = i * per_sample; k < (i + 1) * per_sample; ++k) {
        const double x_s = input.f32()[k] / edm.c_in(s);
        const double denoised = kDataStd * kDataStd * x_s / (kDataStd * kDataStd + s * s);
        out.f32()[k] = static_cast<float>((denoised - edm.c_skip(s) * x_s) / edm.c_out(s));
      }
    }
  };
}

// An EDM teacher distils on the continuous schedule's grid at its VE sigmas: its two DDIM steps land where the
// exact ones do, and the student's output target is the F whose x estimate is x~.
TEST(DistillationTarget, EdmTeacherOnTheContinuousGrid) {
  Fixture f;
  // sigma_data differs from the data's std: with them equal, the exact F would be 0 and its scale untested.
  const EdmPreconditioning edm{0.8, -1.2, 1.2};
  const Parameterization network = Parameterization::edm(edm);
  const Tensor target = distillation_targets(exact_edm_teacher(edm), network, f.levels, f.z, Tensor());
  const int64_t per_sample = f.z.numel() / kStudentSteps;
  for (int i = 0; i < kStudentSteps; ++i) {
    const DistillationLevels& l = f.levels[static_cast<size_t>(i)];
    const Mix student = ddim_step(l.start, l.end);
    const Mix output = student_output_target(network, l.start);
    const Mix x_mix = x0_from_network(network, l.start);
    for (int64_t k = i * per_sample; k < (i + 1) * per_sample; ++k) {
      const double expected = two_teacher_steps(l, f.z.f32()[k]);
      const double reached = student.first * f.z.f32()[k] + student.second * target.f32()[k];
      EXPECT_NEAR(reached, expected, 2e-5 * (1 + std::abs(expected))) << "index " << i + 1 << " element " << k;
      const double o = output.first * f.z.f32()[k] + output.second * target.f32()[k];
      EXPECT_NEAR(x_mix.first * f.z.f32()[k] + x_mix.second * o, target.f32()[k], 1e-9 + 1e-6 * std::abs(o));
    }
    // The weight on the F-error is w(SNR) c_out^2: the x-error weight, since |x - x_hat| = c_out |F - F*|.
    const double c_out = edm.c_out(l.start.sigma / l.start.alpha);
    EXPECT_NEAR(x_error_weight(network, LossWeighting::SnrTruncated, l.start, kDefaultMinSnrGamma),
                std::max(l.start.snr(), 1.0) * c_out * c_out, 1e-12);
  }
}

}  // namespace
}  // namespace diffuse
