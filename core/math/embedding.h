// Sinusoidal timestep embedding frequencies (DDPM, "Attention is all you
// need" positional encoding): out[n] = [sin(t f_0..f_{H-1}), cos(t f_0..)],
// H = D/2. Shared by the CPU and CUDA backends.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace diffuse {

// f_i = exp(-ln(10000) i / (H - 1)) for i in [0, H), H >= 2. Computed in
// double, like the angle t * f_i that uses it: t reaches ~1000, where a float
// angle would already be off by ~6e-5 and host/device libm would disagree.
DIFFUSE_HD double timestep_frequency(int64_t i, int64_t half) {
  constexpr double kLog10000 = 9.210340371976182736;
  return exp(-kLog10000 * static_cast<double>(i) / static_cast<double>(half - 1));
}

// The angle t * f_i whose sine and cosine are elements i and H + i of t's embedding.
DIFFUSE_HD double timestep_angle(float t, int64_t i, int64_t half) {
  return static_cast<double>(t) * timestep_frequency(i, half);
}

// Frequency i's term of dt, given the gradients of its sine (dsin) and cosine
// (dcos): d sin(t f)/dt = f cos(t f), d cos(t f)/dt = -f sin(t f).
DIFFUSE_HD double timestep_grad_term(float t, int64_t i, int64_t half, float dsin, float dcos) {
  const double frequency = timestep_frequency(i, half);
  const double angle = static_cast<double>(t) * frequency;
  return frequency * (dsin * cos(angle) - dcos * sin(angle));
}

}  // namespace diffuse
