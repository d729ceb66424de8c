// What a diffusion model is trained and sampled with, apart from the network:
// its noise schedule, its formulation (how the network is fed and what it
// predicts), how the loss is weighted, and class conditioning. Built from a config by run/model_setup.h.
#pragma once

#include "diffusion/formulation.h"
#include "diffusion/objective.h"
#include "diffusion/schedule.h"

namespace diffuse {

struct DiffusionSetup {
  NoiseSchedule schedule;
  Parameterization network;
  LossWeighting weighting;
  double min_snr_gamma;  // gamma of weighting min_snr
  double class_dropout;
  int num_classes;  // 0 = unconditional
};

}  // namespace diffuse
