#include "trainer/consistency_distillation.h"

#include <algorithm>
#include <string>
#include <vector>

#include "run/model_setup.h"

namespace diffuse {

Config consistency_distillation_config(const Config& config, const Config& teacher) {
  Config run = config;
  run.model = teacher.model;
  run.diffusion = teacher.diffusion;
  run.train.steps = config.distill.steps_per_stage;
  run.train.lr = config.distill.lr;
  run.train.warmup_steps = 0;
  run.train.lr_decay = LrDecay::kConstant;
  const double mu = config.consistency.target_ema;
  std::vector<double>& rates = run.train.ema_rates;
  if (mu > 0.0 && std::find(rates.begin(), rates.end(), mu) == rates.end()) rates.push_back(mu);
  run.sample.sampler = SamplerKind::kConsistency;
  run.sample.eta = 0.0;
  run.sample.s_churn = 0.0;
  run.sample.steps = kConsistencySamplingSteps;
  return run;
}

ConsistencyDistillation::ConsistencyDistillation(const Config& run, model::UNet& teacher, Device device)
    : run_(run),
      setup_(diffusion_setup(run)),
      objective_(consistency_objective(run, setup_, false)),
      teacher_(teacher) {
  const double mu = run.consistency.target_ema;
  if (mu == 0.0) return;
  const std::vector<double>& rates = run.train.ema_rates;
  const auto rate = std::find(rates.begin(), rates.end(), mu);
  DIFFUSE_CHECK(rate != rates.end(), "the target network's EMA rate ", mu, " is not among train.ema_rates");
  target_ema_ = static_cast<size_t>(rate - rates.begin());
  target_ = std::make_unique<model::UNet>(unet_spec(run.model), target_store_);
  target_store_.finalize(device);
}

void ConsistencyDistillation::install(Trainer& trainer) {
  trainer.set_micro_step(
      [this, &trainer](model::UNet& student, const MicroBatch& batch, const ops::LossScale& loss_scale) {
        model::UNet* target = &student;
        if (target_) {
          copy(trainer.ema(target_ema_), target_store_.params());
          target = target_.get();
        }
        return consistency_micro_batch(student, *target, &teacher_, setup_, objective_, run_.seed, batch, loss_scale);
      });
  trainer.set_student(name_of(kDistillMethodNames, DistillMethod::kConsistency), kConsistencySamplingSteps);
}

}  // namespace diffuse
