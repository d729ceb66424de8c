// `diffuse distill`: progressive distillation (distill.method progressive, the default) or consistency
// distillation (consistency) of a teacher checkpoint.
//
// Progressive distillation (Salimans & Ho 2022, Algorithm 2) goes stage by stage from distill.from_steps sampler
// steps down to distill.to_steps, halving each stage.
//
// Each stage is a training run (trainer.h, so distributed, resumable and
// logged like training) in RUN/stage-<k>-<N>steps/ (its TensorBoard run in
// RUN/tensorboard/stage-<k>-<N>steps/), whose objective is the
// distillation loss (distillation_step.h) against the stage's teacher: the
// original teacher's first EMA weights for stage 1, then the previous stage's
// final student. The student starts from its teacher's weights with fresh
// optimizer state; its learning rate decays linearly to 0 within the stage
// (distill.lr, distill.steps_per_stage). Its checkpoints carry sampling_steps
// = N. The model and diffusion sections come from the teacher, whose schedule
// must be cosine_continuous and prediction x0 or v, or whose formulation is
// edm; the loss weight is distill.loss_weight.
//
// Consistency distillation (Song et al. 2023; trainer/consistency_step.h) is one training run in RUN itself of
// distill.steps_per_stage steps at the constant rate distill.lr: the student starts from the teacher's first EMA
// weights, on a grid of consistency.levels levels, and learns against a target network that is the EMA of rate
// consistency.target_ema of the student (added to train.ema_rates; 0: the student itself), so checkpoints hold it
// and a resume continues bit for bit. The teacher steps its probability-flow ODE: Heun for edm, DDIM for vp (any
// schedule and prediction). The student's checkpoints carry method consistency and sampling_steps 1, and its
// config samples with the consistency sampler.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "trainer/trainer.h"

namespace diffuse {

struct DistillOptions {
  std::string config_path;
  std::vector<std::string> overrides;  // "key=value"
  std::string teacher;                 // checkpoint
  std::string run_dir;
  int from_steps = 0;                   // 0: a student teacher's sampling_steps, else distill.from_steps
  int to_steps = 0;                     // 0: distill.to_steps
  std::string resume;                   // "" or "auto": continue the newest stage from its newest checkpoint
  std::optional<DistillMethod> method;  // --method; absent: distill.method
};

// The student step counts of the stages: from/2, from/4, ..., to.
std::vector<int> distillation_stages(int from_steps, int to_steps);

// Collective, like run_training; `make_evaluator` serves train.eval_every in each stage.
void run_distillation(const DistillOptions& options, const EvaluatorFactory& make_evaluator = {});

}  // namespace diffuse
