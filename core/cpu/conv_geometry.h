// The shape of one CPU 2-D convolution: x [batch, height, width, in_channels]
// (NHWC), weight [out_channels, kernel_h, kernel_w, in_channels], y [batch,
// out_height, out_width, out_channels]. Shared by the oneDNN and im2col paths.
#pragma once

#include <cstdint>

#include "core/backend.h"
#include "core/tensor.h"

namespace diffuse::cpu {

struct ConvGeometry {
  int64_t batch, height, width, in_channels;
  int64_t out_channels, kernel_h, kernel_w, stride, pad_h, pad_w;
  int64_t out_height, out_width;

  static ConvGeometry of(const Tensor& x, const Tensor& weight, const Conv2dWindow& window) {
    ConvGeometry g{};
    g.batch = x.dim(0);
    g.height = x.dim(1);
    g.width = x.dim(2);
    g.in_channels = x.dim(3);
    g.out_channels = weight.dim(0);
    g.kernel_h = weight.dim(1);
    g.kernel_w = weight.dim(2);
    g.stride = window.stride;
    g.pad_h = window.pad_h;
    g.pad_w = window.pad_w;
    g.out_height = (g.height + 2 * g.pad_h - g.kernel_h) / g.stride + 1;
    g.out_width = (g.width + 2 * g.pad_w - g.kernel_w) / g.stride + 1;
    return g;
  }

  int64_t patch_size() const { return kernel_h * kernel_w * in_channels; }
  int64_t out_lines() const { return batch * out_height; }
  int64_t out_pixels() const { return out_lines() * out_width; }
  bool is_pointwise() const { return kernel_h == 1 && kernel_w == 1 && stride == 1 && pad_h == 0 && pad_w == 0; }
};

}  // namespace diffuse::cpu
