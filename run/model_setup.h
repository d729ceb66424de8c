// From a Config to the objects a job needs: the U-Net spec, the diffusion
// setup, and sampling with a model. Shared by train, sample and bench.
#pragma once

#include <cstdint>
#include <vector>

#include "core/progress.h"
#include "diffusion/diffusion_setup.h"
#include "diffusion/sampler.h"
#include "model/unet.h"
#include "run/config.h"

namespace diffuse {

model::UNetSpec unet_spec(const ModelConfig& config);
DiffusionSetup diffusion_setup(const Config& config);

// Samples images [labels or count, H, W, C] with the model's current
// parameters, in batches of at most `batch`. Sample i is keyed by global index
// first_sample + i, so results do not depend on `batch`. The model runs where its
// parameters live; the images come back on the host. `progress`, when given,
// hears the number of images done after each batch.
Tensor sample_with_model(model::UNet& unet, const model::UNetSpec& spec, const DiffusionSetup& setup,
                         const SamplerOptions& options, const Tensor& labels, int64_t count, int64_t batch,
                         const ProgressCallback& progress = {});

}  // namespace diffuse
