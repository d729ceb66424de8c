// Consistency distillation as a Trainer's objective (trainer/consistency_step.h): the micro-step with the teacher
// and the target network, and the student's checkpoint labels. (Consistency training needs neither: the Trainer
// runs it itself for diffusion.formulation consistency.)
//
// The target network is the Trainer's EMA of rate consistency.target_ema (mu), which the run's train.ema_rates
// must list (consistency_distillation_config adds it): checkpoints then hold it and a resume continues bit for
// bit. Its weights are copied into a model of its own before each micro-step. With mu = 0 the target is the
// online network itself, run without gradients.
#pragma once

#include <memory>

#include "model/parameters.h"
#include "model/unet.h"
#include "run/checkpoint_model.h"
#include "run/config.h"
#include "trainer/consistency_step.h"
#include "trainer/trainer.h"

namespace diffuse {

// A consistency student's default sampling steps: one.
inline constexpr int kConsistencySamplingSteps = 1;

// The run of consistency distillation from `config` (the distill and consistency sections) and the teacher's:
// the teacher's model and diffusion sections, distill.steps_per_stage steps at the constant rate distill.lr,
// the target's EMA rate among train.ema_rates, and one-step consistency sample grids.
Config consistency_distillation_config(const Config& config, const Config& teacher);

class ConsistencyDistillation {
 public:
  // `teacher` must outlive this and live on `device`, like the Trainer's model.
  ConsistencyDistillation(const Config& run, model::UNet& teacher, Device device);

  // Makes `trainer` (built from the same run config) learn with this loss, and labels its checkpoints as a
  // consistency student of kConsistencySamplingSteps.
  void install(Trainer& trainer);

  const ConsistencyObjective& objective() const { return objective_; }

 private:
  Config run_;
  DiffusionSetup setup_;
  ConsistencyObjective objective_;
  model::UNet& teacher_;
  // The target network with mu > 0 (distillation), and the index of its EMA rate.
  model::ParameterStore target_store_;
  std::unique_ptr<model::UNet> target_;
  size_t target_ema_ = 0;
};

}  // namespace diffuse
