// Resampling and channel plumbing on the CPU: nearest-neighbour 2x upsampling
// (the U-Net decoder) and channel concat/split (its skip connections). NHWC
// makes a pixel's channels contiguous, so every op moves whole channel rows.
#include <algorithm>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"

namespace diffuse::cpu {

void CpuBackend::upsample_nearest2x_forward(const Tensor& x, const Tensor& y) {
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  const float* in = x.f32();
  float* out = y.f32();
  // One task per input row: it writes output rows 2h and 2h+1.
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(x.numel()))
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < h; ++r) {
      const float* source = in + (i * h + r) * w * c;
      float* top = out + ((i * 2 * h + 2 * r) * 2 * w) * c;
      for (int64_t col = 0; col < w; ++col) {
        std::copy(source + col * c, source + (col + 1) * c, top + 2 * col * c);
        std::copy(source + col * c, source + (col + 1) * c, top + (2 * col + 1) * c);
      }
      std::copy(top, top + 2 * w * c, top + 2 * w * c);
    }
}

void CpuBackend::upsample_nearest2x_backward(const Tensor& dy, const Tensor& dx) {
  const int64_t n = dx.dim(0), h = dx.dim(1), w = dx.dim(2), c = dx.dim(3);
  const float* in = dy.f32();
  float* out = dx.f32();
  // Each input pixel gathers its four children (no write conflicts, no atomics).
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(dy.numel()))
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < h; ++r) {
      const float* top = in + ((i * 2 * h + 2 * r) * 2 * w) * c;
      const float* bottom = top + 2 * w * c;
      float* target = out + (i * h + r) * w * c;
      for (int64_t col = 0; col < w; ++col) {
        const float* a = top + 2 * col * c;
        const float* b = bottom + 2 * col * c;
        float* t = target + col * c;
        for (int64_t ch = 0; ch < c; ++ch) t[ch] = (a[ch] + a[c + ch]) + (b[ch] + b[c + ch]);
      }
    }
}

void CpuBackend::concat_channels(const Tensor& a, const Tensor& b, const Tensor& y) {
  const int64_t pixels = a.dim(0) * a.dim(1) * a.dim(2), ca = a.dim(3), cb = b.dim(3), cy = ca + cb;
  const float* left = a.f32();
  const float* right = b.f32();
  float* out = y.f32();
#pragma omp parallel for schedule(static) if (worth_threads(y.numel()))
  for (int64_t p = 0; p < pixels; ++p) {
    std::copy(left + p * ca, left + (p + 1) * ca, out + p * cy);
    std::copy(right + p * cb, right + (p + 1) * cb, out + p * cy + ca);
  }
}

void CpuBackend::split_channels(const Tensor& y, const Tensor& a, const Tensor& b) {
  const int64_t pixels = y.dim(0) * y.dim(1) * y.dim(2), cy = y.dim(3);
  const int64_t ca = a.defined() ? a.dim(3) : cy - b.dim(3), cb = cy - ca;
  const float* in = y.f32();
  float* left = a.defined() ? a.f32() : nullptr;
  float* right = b.defined() ? b.f32() : nullptr;
#pragma omp parallel for schedule(static) if (worth_threads(y.numel()))
  for (int64_t p = 0; p < pixels; ++p) {
    if (left) std::copy(in + p * cy, in + p * cy + ca, left + p * ca);
    if (right) std::copy(in + p * cy + ca, in + (p + 1) * cy, right + p * cb);
  }
}

}  // namespace diffuse::cpu
