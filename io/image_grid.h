// Writes a batch of images as one PNG grid (rows x columns tiles with a
// 2-pixel border), the way training progress and samples are looked at.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace diffuse {

// A PNG file in memory.
struct PngImage {
  std::string bytes;
  int64_t height = 0, width = 0;
  int64_t channels = 0;  // 1 (gray) or 3 (RGB)
};

// images [N,H,W,C] fp32 in [-1, 1], C = 1 (gray) or 3 (RGB); `columns` tiles per row.
PngImage png_grid(const Tensor& images, int columns);

// png_grid published as `path` atomically (io/atomic_file.h), so a reader never sees a partial file.
void write_png_grid(const std::string& path, const Tensor& images, int columns);

}  // namespace diffuse
