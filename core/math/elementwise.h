// Element maps of the flat-buffer ops, shared by the CPU and CUDA backends:
// clamp (the samplers' clipping), the per-sample combination of the diffusion arithmetic, the EMA update of the
// weights and the adaptive group norm's modulation.
#pragma once

#include <cmath>

#include "core/hd.h"

namespace diffuse {

// std::min(std::max(x, low), high): a NaN x stays NaN (fminf/fmaxf would drop it).
DIFFUSE_HD float clamp_value(float x, float low, float high) {
  const float raised = x < low ? low : x;
  return high < raised ? high : raised;
}

// One element of combine_per_sample, a p + b q, with the one fused multiply-add spelled out: a compiler free to
// contract could fuse either product, and differently in the f32 and the bf16/f16 loops or on the two backends.
DIFFUSE_HD float combine_value(float a, float p, float b, float q) { return fmaf(a, p, b * q); }

// One element of ema = decay * ema + (1 - decay) * params.
DIFFUSE_HD float ema_average(float average, float param, float decay) {
  return decay * average + (1.0f - decay) * param;
}

// One element of scale_shift_channels: x (1 + scale) + shift, and its gradient with respect to x.
DIFFUSE_HD float scale_shift_value(float x, float scale, float shift) { return x * (1.0f + scale) + shift; }
DIFFUSE_HD float scale_shift_input_grad(float dy, float scale) { return dy * (1.0f + scale); }

}  // namespace diffuse
