// Dropout element math shared by the CPU and CUDA backends: which elements
// survive and how survivors are rescaled. The uniform comes from the Philox
// stream named in core/ops.h (DropoutKey).
#pragma once

#include "core/hd.h"

namespace diffuse {

// Keep iff u >= p. Philox uniforms lie in the open interval (0, 1), so p == 0
// keeps every element.
DIFFUSE_HD bool dropout_keep(float uniform, float p) { return uniform >= p; }

// Survivors are scaled by 1 / (1 - p) so the expected output equals the input.
DIFFUSE_HD float dropout_scale(float p) { return 1.0f / (1.0f - p); }

// Forward on x and backward on dy are the same map.
DIFFUSE_HD float dropout_apply(float value, float uniform, float p, float scale) {
  return dropout_keep(uniform, p) ? value * scale : 0.0f;
}

}  // namespace diffuse
