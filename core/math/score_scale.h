// The attention score scale shared by the CPU and CUDA backends: scores are q_h k_h^T / sqrt(D) for heads of D
// channels.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace diffuse {

// 1 / sqrt(D) for heads of `channels` = D channels (1 for none, so an empty head scales nothing).
DIFFUSE_HD float score_scale(int64_t channels) {
  return channels > 0 ? 1.0f / std::sqrt(static_cast<float>(channels)) : 1.0f;
}

}  // namespace diffuse
