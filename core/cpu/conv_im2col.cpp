// The im2col convolution (conv_im2col.h).
#include "core/cpu/conv_im2col.h"

#include <algorithm>
#include <cstring>

#include "core/cpu/gemm.h"
#include "core/cpu/parallel.h"

namespace diffuse::cpu {

namespace {

thread_local ScratchBuffer patch_buffer;

// Output lines per chunk so that the chunk's patch matrix fits the scratch budget (at least one line).
int64_t lines_per_chunk(const ConvGeometry& g) {
  const size_t line_bytes = std::max<size_t>(1, static_cast<size_t>(g.out_width * g.patch_size()) * sizeof(float));
  const int64_t fitting = static_cast<int64_t>(scratch_budget_bytes() / line_bytes);
  return std::max<int64_t>(1, std::min(fitting, g.out_lines()));
}

// patches[r, (ky,kx,ci)] = x at kernel tap (ky,kx) of output pixel r, zero in the padding, for the output
// lines [line_begin, line_end).
void im2col(const float* x, const ConvGeometry& g, int64_t line_begin, int64_t line_end, float* patches) {
  const int64_t rows = (line_end - line_begin) * g.out_width;
  const int64_t patch_size = g.patch_size(), channels = g.in_channels;
#pragma omp parallel for schedule(static) if (worth_threads(rows * patch_size))
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t line = line_begin + row / g.out_width, ox = row % g.out_width;
    const int64_t n = line / g.out_height, oy = line % g.out_height;
    const int64_t ix0 = ox * g.stride - g.pad_w;
    // Taps kx in [kx_begin, kx_end) fall inside the image; they are adjacent in both x and the patch.
    const int64_t kx_begin = std::max<int64_t>(0, -ix0), kx_end = std::min(g.kernel_w, g.width - ix0);
    float* patch = patches + row * patch_size;
    for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
      const int64_t iy = oy * g.stride - g.pad_h + ky;
      float* tap_row = patch + ky * g.kernel_w * channels;
      if (iy < 0 || iy >= g.height || kx_begin >= kx_end) {
        std::memset(tap_row, 0, static_cast<size_t>(g.kernel_w * channels) * sizeof(float));
        continue;
      }
      std::memset(tap_row, 0, static_cast<size_t>(kx_begin * channels) * sizeof(float));
      const float* source = x + ((n * g.height + iy) * g.width + ix0 + kx_begin) * channels;
      std::memcpy(tap_row + kx_begin * channels, source,
                  static_cast<size_t>((kx_end - kx_begin) * channels) * sizeof(float));
      std::memset(tap_row + kx_end * channels, 0,
                  static_cast<size_t>((g.kernel_w - kx_end) * channels) * sizeof(float));
    }
  }
}

// dx += the patch gradients of output lines [line_begin, line_end), each added back to the input pixel it
// was copied from. Gathered per input line, so every thread writes its own lines and needs no atomics.
void col2im_add(const float* patch_grads, const ConvGeometry& g, int64_t line_begin, int64_t line_end, float* dx) {
  const int64_t patch_size = g.patch_size(), channels = g.in_channels;
  // Input lines (flat n * height + iy) the chunk reaches.
  const int64_t first_n = line_begin / g.out_height, first_oy = line_begin % g.out_height;
  const int64_t last_n = (line_end - 1) / g.out_height, last_oy = (line_end - 1) % g.out_height;
  const int64_t in_begin = first_n * g.height + std::max<int64_t>(0, first_oy * g.stride - g.pad_h);
  const int64_t in_end = last_n * g.height + std::min(g.height, last_oy * g.stride - g.pad_h + g.kernel_h);
#pragma omp parallel for schedule(static) if (worth_threads((in_end - in_begin) * g.width * patch_size))
  for (int64_t in_line = in_begin; in_line < in_end; ++in_line) {
    const int64_t n = in_line / g.height, iy = in_line % g.height;
    for (int64_t ky = 0; ky < g.kernel_h; ++ky) {
      const int64_t oy_scaled = iy + g.pad_h - ky;
      if (oy_scaled < 0 || oy_scaled % g.stride != 0) continue;
      const int64_t oy = oy_scaled / g.stride;
      const int64_t line = n * g.out_height + oy;
      if (oy >= g.out_height || line < line_begin || line >= line_end) continue;
      const float* line_grads = patch_grads + (line - line_begin) * g.out_width * patch_size;
      for (int64_t ix = 0; ix < g.width; ++ix) {
        float* target = dx + (in_line * g.width + ix) * channels;
        for (int64_t kx = 0; kx < g.kernel_w; ++kx) {
          const int64_t ox_scaled = ix + g.pad_w - kx;
          if (ox_scaled < 0 || ox_scaled % g.stride != 0 || ox_scaled / g.stride >= g.out_width) continue;
          const float* source = line_grads + (ox_scaled / g.stride) * patch_size + (ky * g.kernel_w + kx) * channels;
          for (int64_t c = 0; c < channels; ++c) target[c] += source[c];
        }
      }
    }
  }
}

void fill_zero(float* data, int64_t count) {
  constexpr int64_t kBlock = 1 << 16;
#pragma omp parallel for schedule(static) if (count > kBlock)
  for (int64_t begin = 0; begin < count; begin += kBlock)
    std::memset(data + begin, 0, static_cast<size_t>(std::min(kBlock, count - begin)) * sizeof(float));
}

// Calls body(line_begin, line_end, rows, patches) for each chunk of output lines [line_begin, line_end), whose
// rows = (line_end - line_begin) * out_width patch rows fit the thread's patch buffer.
template <typename Body>
void for_each_chunk(const ConvGeometry& g, const Body& body) {
  const int64_t chunk_lines = lines_per_chunk(g);
  float* patches = patch_buffer.get(static_cast<size_t>(chunk_lines * g.out_width * g.patch_size()));
  for (int64_t line_begin = 0; line_begin < g.out_lines(); line_begin += chunk_lines) {
    const int64_t line_end = std::min(g.out_lines(), line_begin + chunk_lines);
    body(line_begin, line_end, (line_end - line_begin) * g.out_width, patches);
  }
}

}  // namespace

void im2col_conv_forward(const ConvGeometry& g, const float* x, const float* weight, const float* bias, float* y) {
  // The bias is broadcast into y first and the GEMM adds onto it (beta = 1).
  const float beta = bias != nullptr ? 1.0f : 0.0f;
  if (bias != nullptr) fill_rows(y, g.out_pixels(), g.out_channels, bias);
  if (g.is_pointwise()) {
    gemm(Transpose::No, Transpose::Yes, g.out_pixels(), g.out_channels, g.in_channels, 1.0f, x, g.in_channels, weight,
         g.in_channels, beta, y, g.out_channels);
    return;
  }
  const int64_t patch_size = g.patch_size();
  for_each_chunk(g, [&](int64_t line_begin, int64_t line_end, int64_t rows, float* patches) {
    im2col(x, g, line_begin, line_end, patches);
    gemm(Transpose::No, Transpose::Yes, rows, g.out_channels, patch_size, 1.0f, patches, patch_size, weight, patch_size,
         beta, y + line_begin * g.out_width * g.out_channels, g.out_channels);
  });
}

void im2col_conv_backward_data(const ConvGeometry& g, const float* dy, const float* weight, float* dx) {
  if (g.is_pointwise()) {
    // dx [NHW,Ci] = dy weight.
    gemm(Transpose::No, Transpose::No, g.out_pixels(), g.in_channels, g.out_channels, 1.0f, dy, g.out_channels, weight,
         g.in_channels, 0.0f, dx, g.in_channels);
    return;
  }
  // Chunks add their patch gradients into dx, so it starts from zero.
  fill_zero(dx, g.batch * g.height * g.width * g.in_channels);
  const int64_t patch_size = g.patch_size();
  for_each_chunk(g, [&](int64_t line_begin, int64_t line_end, int64_t rows, float* patches) {
    // Patch gradients [rows, Kh*Kw*Ci] = dy weight, then folded back onto dx.
    gemm(Transpose::No, Transpose::No, rows, patch_size, g.out_channels, 1.0f,
         dy + line_begin * g.out_width * g.out_channels, g.out_channels, weight, patch_size, 0.0f, patches, patch_size);
    col2im_add(patches, g, line_begin, line_end, dx);
  });
}

void im2col_conv_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dweight) {
  if (g.is_pointwise()) {
    // dweight [Co,Ci] += dy^T x.
    gemm(Transpose::Yes, Transpose::No, g.out_channels, g.in_channels, g.out_pixels(), 1.0f, dy, g.out_channels, x,
         g.in_channels, 1.0f, dweight, g.in_channels);
    return;
  }
  const int64_t patch_size = g.patch_size();
  for_each_chunk(g, [&](int64_t line_begin, int64_t line_end, int64_t rows, float* patches) {
    // dweight [Co, Kh*Kw*Ci] += dy^T patches.
    im2col(x, g, line_begin, line_end, patches);
    gemm(Transpose::Yes, Transpose::No, g.out_channels, patch_size, rows, 1.0f,
         dy + line_begin * g.out_width * g.out_channels, g.out_channels, patches, patch_size, 1.0f, dweight,
         patch_size);
  });
}

}  // namespace diffuse::cpu
