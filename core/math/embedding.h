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

}  // namespace diffuse
