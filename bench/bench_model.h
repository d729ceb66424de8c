// The benchmarks' subject: one rank's U-Net, optimizer state and synthetic
// share of a batch (images in [-1, 1] and cycling labels: a step's cost does
// not depend on the data), built from a config on a device.
#pragma once

#include <cstdint>
#include <memory>

#include "model/parameters.h"
#include "model/unet.h"
#include "optim/adamw.h"
#include "run/config.h"
#include "run/precision.h"
#include "trainer/training_step.h"

namespace diffuse {

struct BenchModel {
  // `batch` images whose global indices start at `first_sample`, this rank's share of `global_batch` (0: all of it).
  // Applies train.precision's policy on `device` (run/precision.h) as the trainer does: the U-Net computes in it.
  BenchModel(const Config& config, Device device, int batch, uint32_t first_sample, int global_batch = 0);

  // The weights' compute copy (in bf16 or f16), as the trainer's step begins, then the diffusion loss's forward and
  // backward on `micro`, accumulating gradients at loss scale 1 / global batch, as the trainer's micro-step does.
  void forward_backward();

  // The step decision on the device, then AdamW (step is 1-based) and every EMA rate of the config reading it, as
  // the trainer's update does.
  void update(int64_t step);

  const Config& config;
  PrecisionPolicy precision;
  model::UNetSpec spec;
  DiffusionSetup setup;
  model::ParameterStore store;
  model::UNet unet;
  std::unique_ptr<AdamW> optimizer;  // whole (every rank's reducer sums the gradients), one EMA per train.ema_rates
  Tensor step_state;                 // f32 [kStepStateFloats]: the loss scaler's state at scale 1
  MicroBatch micro;
  float loss_scale;  // 1 / the global batch
};

}  // namespace diffuse
