// From a Config to the objects a job needs: the U-Net spec, the diffusion
// setup, and sampling with a model. Shared by train, sample and bench.
#pragma once

#include <cstdint>
#include <vector>

#include "model/unet.h"
#include "diffusion/sampler.h"
#include "run/config.h"
#include "diffusion/diffusion_setup.h"

namespace diffuse {

model::UNetSpec unet_spec(const ModelConfig& config);
DiffusionSetup diffusion_setup(const Config& config);

// The classes of a sample grid: `per_class` of each class in order for a
// conditional model, or no labels (undefined) for an unconditional one.
Tensor grid_labels(int num_classes, int per_class);

// Samples images [labels or count, H, W, C] with the model's current
// parameters, in batches of at most `batch`. Sample i is keyed by global index
// first_sample + i, so results do not depend on `batch`. The model runs where its
// parameters live; the images come back on the host.
Tensor sample_with_model(model::UNet& unet, const model::UNetSpec& spec, const DiffusionSetup& setup,
                         const SamplerOptions& options, const Tensor& labels, int64_t count, int64_t batch);

}  // namespace diffuse
