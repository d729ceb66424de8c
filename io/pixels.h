// The one mapping between 8-bit pixels and the fp32 values models see:
// value = pixel / 127.5 - 1, in [-1, 1]; back by clamping to [-1, 1] and
// rounding to the nearest of the 256 levels.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace diffuse {

inline float from_pixel(uint8_t pixel) { return static_cast<float>(pixel) / 127.5f - 1.0f; }

inline uint8_t to_pixel(float value) {
  return static_cast<uint8_t>(std::lround((std::clamp(value, -1.0f, 1.0f) + 1.0f) * 127.5f));
}

}  // namespace diffuse
