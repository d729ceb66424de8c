// A model rebuilt from a checkpoint: its stored config, the U-Net it
// describes, and one set of its weights loaded. Used by sample, eval and
// distill (the teacher).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "model/parameters.h"
#include "model/unet.h"
#include "run/config.h"

namespace diffuse {

struct CheckpointModel {
  Config config;
  CheckpointMeta meta;
  model::UNetSpec spec;
  model::ParameterStore store;
  std::unique_ptr<model::UNet> unet;
};

// `ema`: "first" (the first rate of the stored config's train.ema_rates, the weights the trainer samples
// from; the raw weights when the checkpoint has no EMA), "none" (the raw
// weights) or a rate such as "0.9999". A missing rate or a file that does not fit its own config is an
// error naming the checkpoint. The model's parameters live on `device`.
std::unique_ptr<CheckpointModel> load_checkpoint_model(const std::string& path, const std::string& ema,
                                                       Device device = Device::CPU);

// The same model with its weights copied onto `device` (the distillation teacher, loaded before the GPU was chosen).
std::unique_ptr<CheckpointModel> checkpoint_model_on(const CheckpointModel& source, Device device);

// Where each parameter of the store lives in the flat buffers, as checkpoints record it.
std::vector<ParameterEntry> checkpoint_layout(const model::ParameterStore& store);

}  // namespace diffuse
