// `diffuse export --format diffusers` and `diffuse import`: our checkpoints to and from diffusers UNet2DModel
// directories (run/diffusers_layout.h says how the two models correspond).
#pragma once

#include <string>
#include <vector>

namespace diffuse {

// Writes out_dir/diffusion_pytorch_model.safetensors, out_dir/config.json and, where diffusers can express our
// schedule, out_dir/scheduler_config.json, from the weights `ema` ("first", "none" or a rate, as `diffuse sample`
// takes them) of `checkpoint`. out_dir must not exist or be empty, and its parent must exist; a model or setting
// UNet2DModel cannot express is an Error naming it, before anything is written. The files are written into a
// sibling directory renamed to out_dir when complete, so a failure leaves out_dir as it was.
void export_diffusers(const std::string& checkpoint, const std::string& ema, const std::string& out_dir);

// Writes the checkpoint `out` (which must not exist) at step 0 holding the UNet2DModel of `from_dir`, checked
// against the model of the config file `config_path` (with `overrides`): its config.json and every tensor. The
// EMA weights of every rate of train.ema_rates start at the imported weights and the Adam moments at zero, so that
// `diffuse train --resume out` fine-tunes from them.
void import_diffusers(const std::string& from_dir, const std::string& config_path,
                      const std::vector<std::string>& overrides, const std::string& out);

}  // namespace diffuse
