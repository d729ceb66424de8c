// One consistency micro-step (diffusion/consistency.h): per sample a level pair sigma_i < sigma_{i+1} of the
// N-level grid and the noise eps (keyed by global sample index, like training), x_{i+1} = x + sigma_{i+1} eps, and
// the neighbour x_i: the teacher's one ODE step from x_{i+1} (distillation) or x + sigma_i eps with the same eps
// (training). The loss is lambda_i d(f(x_{i+1}, sigma_{i+1}), f^-(x_i, sigma_i)) with the pseudo-Huber d, f the
// online network's consistency function and f^- the target network's, which only runs forward.
//
//  - distillation (Song et al. 2023): fixed N, i uniform, lambda = 1, the target an EMA of the online network.
//  - training (iCT, Song & Dhariwal 2023): N from the doubling curriculum at the step, i from the discretised
//    log-normal, lambda = 1 / (sigma_{i+1} - sigma_i), the target the online network itself (mu = 0).
#pragma once

#include <cstdint>

#include "diffusion/consistency.h"
#include "model/unet.h"
#include "run/config.h"
#include "trainer/training_step.h"

namespace diffuse {

struct ConsistencyObjective {
  double sigma_min = 0.0, sigma_max = 0.0, rho = 7.0;  // the grid's range, in VE sigma
  int levels = 18;                                     // distillation's fixed N
  bool training = false;                               // iCT: curriculum, log-normal levels, 1 / dsigma weights
  ConsistencyCurriculum curriculum;
  int64_t total_steps = 0;  // K of the curriculum
  double p_mean = -1.1, p_std = 2.0;
  double huber_factor = kPseudoHuberFactor;

  int levels_at(int64_t step) const { return training ? curriculum.levels_at(step, total_steps) : levels; }
};

// The objective of a run: the sample section's Karras grid (0 = the model's defaults, as the sampler), the
// consistency section, and train.steps for the curriculum.
ConsistencyObjective consistency_objective(const Config& config, const DiffusionSetup& setup, bool training);

// `target` may be `student` itself (mu = 0): it runs first, without keeping activations. `teacher` is null for
// consistency training. Returns the per-sample losses (unscaled, on the device), like train_micro_batch.
Tensor consistency_micro_batch(model::UNet& student, model::UNet& target, model::UNet* teacher,
                               const DiffusionSetup& setup, const ConsistencyObjective& objective, uint64_t seed,
                               const MicroBatch& batch, const ops::LossScale& loss_scale);

}  // namespace diffuse
