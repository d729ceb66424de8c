// Element maps of the flat-buffer ops, shared by the CPU and CUDA backends:
// clamp (the samplers' clipping) and the EMA update of the weights.
#pragma once

#include "core/hd.h"

namespace diffuse {

// std::min(std::max(x, low), high): a NaN x stays NaN (fminf/fmaxf would drop it).
DIFFUSE_HD float clamp_value(float x, float low, float high) {
  const float raised = x < low ? low : x;
  return high < raised ? high : raised;
}

// One element of ema = decay * ema + (1 - decay) * params.
DIFFUSE_HD float ema_average(float average, float param, float decay) {
  return decay * average + (1.0f - decay) * param;
}

}  // namespace diffuse
