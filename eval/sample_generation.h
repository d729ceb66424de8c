// Evaluation samples as pixels: generated images are rounded to 8 bits before
// they are featurized, as saved images are. The samples themselves are drawn by
// run/sampling.h (sample_share, LabelOrder::kInterleaved).
#pragma once

#include "core/tensor.h"

namespace diffuse::eval {

// Rounds images in [-1, 1] to the 256 levels of an 8-bit pixel (in place), as saving them would: generated
// and reference images then go through the feature network alike, and `eval --images` on saved samples
// reproduces `eval --ckpt` exactly.
void quantize_to_8bit(const Tensor& images);

}  // namespace diffuse::eval
