// Pooling window geometry shared by the CPU and CUDA backends (NHWC, a square
// window of `kernel` taps per axis, `stride` apart, `padding` on every side):
// which input pixels an output reads, which outputs read an input pixel, and
// average pooling's divisor. Taps in the padding are skipped, never read.
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace diffuse {

struct PoolGeometry {
  int64_t batch, height, width, channels;  // x [batch, height, width, channels]
  int64_t out_height, out_width;           // y [batch, out_height, out_width, channels]
  int64_t kernel, stride, padding;

  // Taps [begin, end) of output position o along an axis of `extent` input pixels.
  DIFFUSE_HD int64_t tap_begin(int64_t o) const {
    const int64_t first = o * stride - padding;
    return first > 0 ? first : 0;
  }
  DIFFUSE_HD int64_t tap_end(int64_t o, int64_t extent) const {
    const int64_t last = o * stride - padding + kernel;
    return last < extent ? last : extent;
  }

  // Outputs [first_output, last_output] along an axis whose window may contain input pixel i.
  DIFFUSE_HD int64_t first_output(int64_t i) const {
    const int64_t numerator = i + padding - kernel + 1;
    return numerator <= 0 ? 0 : (numerator + stride - 1) / stride;
  }
  DIFFUSE_HD int64_t last_output(int64_t i, int64_t out_extent) const {
    const int64_t o = (i + padding) / stride;
    return o < out_extent - 1 ? o : out_extent - 1;
  }

  // 1 / (taps of output (oy, ox) inside the image): average pooling's weight per tap.
  DIFFUSE_HD float average_weight(int64_t oy, int64_t ox) const {
    const int64_t taps = (tap_end(oy, height) - tap_begin(oy)) * (tap_end(ox, width) - tap_begin(ox));
    return 1.0f / static_cast<float>(taps);
  }
};

}  // namespace diffuse
