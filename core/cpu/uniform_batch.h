// Uniforms of many consecutive elements of one Philox stream at once: sixteen
// blocks go through the rounds side by side, so the rounds vectorize. The
// values equal random_uniform(stream, first + i) bit for bit. Dropout (its own
// op and the one fused behind group norm + SiLU) draws its masks here.
#pragma once

#include <cstdint>

#include "core/philox.h"

namespace diffuse::cpu {

// out[i] = random_uniform(stream, first + i) for i in [0, count).
void draw_uniforms(const RandomStream& stream, int64_t first, int64_t count, float* out);

}  // namespace diffuse::cpu
