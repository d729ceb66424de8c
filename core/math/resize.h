// Bilinear resizing with half-pixel centres (PyTorch's align_corners=False, no
// antialiasing), shared by the CPU and CUDA backends: where output position o
// of `out` reads an axis of `in` pixels. The source coordinate is computed in
// double so both backends pick the same taps and weights.
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace diffuse {

// Output position o blends input pixels low and high with weights 1 - fraction and fraction.
struct ResizeTap {
  int64_t low;
  int64_t high;
  float fraction;
};

// Source coordinate (o + 0.5) * in / out - 0.5, clamped at 0 below and at the last pixel above.
DIFFUSE_HD ResizeTap resize_tap(int64_t o, int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
#if defined(__CUDA_ARCH__)
  // Unfused: nvcc would contract this into an FMA, whose single rounding can pick other taps than the CPU.
  double source = __dadd_rn(__dmul_rn(static_cast<double>(o) + 0.5, scale), -0.5);
#else
  // Two roundings as well: the host code is built in ISO C++ mode, where GCC does not contract into FMAs.
  double source = (static_cast<double>(o) + 0.5) * scale - 0.5;
#endif
  if (source < 0.0) source = 0.0;
  int64_t low = static_cast<int64_t>(source);
  if (low > in - 1) low = in - 1;
  const int64_t high = low + 1 < in - 1 ? low + 1 : in - 1;
  return ResizeTap{low, high, static_cast<float>(source - static_cast<double>(low))};
}

// The output value from its four input taps: along the rows first, then between them.
DIFFUSE_HD float bilinear_blend(float top_left, float top_right, float bottom_left, float bottom_right,
                                const ResizeTap& row, const ResizeTap& col) {
  const float upper = top_left + col.fraction * (top_right - top_left);
  const float lower = bottom_left + col.fraction * (bottom_right - bottom_left);
  return upper + row.fraction * (lower - upper);
}

// How much of an output's gradient each of its four taps receives (the backward).
struct BilinearWeights {
  float top_left, top_right, bottom_left, bottom_right;
};

DIFFUSE_HD BilinearWeights bilinear_weights(const ResizeTap& row, const ResizeTap& col) {
  const float fy = row.fraction, fx = col.fraction;
  return BilinearWeights{(1.0f - fy) * (1.0f - fx), (1.0f - fy) * fx, fy * (1.0f - fx), fy * fx};
}

}  // namespace diffuse
