// Generating evaluation samples with a model: global sample i is drawn with
// the sampler's streams keyed by i and, for class-conditional models, class
// i % num_classes, so the set of samples is the same on any number of ranks
// and for any batch size.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "diffusion/sampler.h"
#include "model/unet.h"
#include "diffusion/diffusion_setup.h"

namespace diffuse::eval {

// i32 [end - begin]: class i % num_classes of global samples [begin, end); undefined when num_classes is 0.
Tensor evaluation_labels(int num_classes, int64_t begin, int64_t end);

// Images [end - begin, S, S, C] in [-1, 1] of global samples [begin, end) (labels as evaluation_labels gives),
// `batch` at a time, with the model's current parameters.
Tensor generate_samples(model::UNet& unet, const DiffusionSetup& setup, const SamplerOptions& options, int64_t begin,
                        int64_t end, int64_t batch);

// Rounds images in [-1, 1] to the 256 levels of an 8-bit pixel (in place), as saving them would: generated
// and reference images then go through the feature network alike, and `eval --images` on saved samples
// reproduces `eval --ckpt` exactly.
void quantize_to_8bit(const Tensor& images);

}  // namespace diffuse::eval
