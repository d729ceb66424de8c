// Progressive distillation (Salimans & Ho 2022, Algorithm 2): a student that
// samples in N DDIM steps learns, at t = i/N, the x-prediction that takes it
// in one step to where two teacher DDIM steps t -> t' = t - 0.5/N ->
// t'' = t - 1/N land. With r = sigma_t'' / sigma_t the target is
//   x~ = (z_t'' - r z_t) / (alpha_t'' - r alpha_t),
// exactly the x_hat for which the student's DDIM step t -> t'' reaches z_t''.
// Teacher steps are not clipped: clipping would make the target disagree with
// the teacher.
//
// An EDM model (diffusion/formulation.h) distils on the same grid: t = i/N of
// the continuous-time schedule, each level at its VE sigma tan(pi t / 2), with
// its network fed and read through its preconditioning. DDIM steps are the
// same in the VP and VE views, so the targets and the student's N-step DDIM
// sampler, which walks that grid, need nothing else.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "diffusion/formulation.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"

namespace diffuse {

// The three noise levels of one distillation target for a student of `student_steps` steps.
struct DistillationLevels {
  NoiseLevel start;  // t = index / N, where the student is trained
  NoiseLevel mid;    // t' = t - 0.5 / N, the teacher's second evaluation
  NoiseLevel end;    // t'' = t - 1 / N, where both land
};

// Whether a student of `to_steps` is reached from `from_steps` by halving: to >= 1 and from = to * 2^k, k >= 1.
bool halves_to(int from_steps, int to_steps);

// index in [1, student_steps].
DistillationLevels distillation_levels(const NoiseSchedule& schedule, int index, int student_steps);

// The deterministic DDIM step now -> next from x_hat: z_next = first * z_now + second * x_hat.
Mix ddim_step(const NoiseLevel& now, const NoiseLevel& next);

// The target x~ = first * z_t + second * z_t''.
Mix distillation_target(const DistillationLevels& levels);

// The student's regression target in its own output space: the output o* whose x estimate at `level`
// (x0_from_network) is x~, as o* = first * z_t + second * x~. With it, x_error_weight(network, weighting,
// level) * |o - o*|^2 equals w(SNR) |x_hat - x~|^2.
Mix student_output_target(const Parameterization& network, const NoiseLevel& level);

// The targets x~ [N,H,W,C] for noisy images z at per-sample levels: two
// teacher DDIM steps each, the teacher run as `network` says (labels as the
// student sees them; undefined for unconditional models).
Tensor distillation_targets(const Denoiser& teacher, const Parameterization& network,
                            const std::vector<DistillationLevels>& levels, const Tensor& z, const Tensor& labels);

}  // namespace diffuse
