// Resampling and channel plumbing on the CPU: nearest-neighbour 2x upsampling
// (the U-Net decoder) and channel concat/split (its skip connections). NHWC
// makes a pixel's channels contiguous, so every op moves whole channel rows. Activations are f32, bf16 or f16
// (one type per call); the upsampling gradient sums its four children in fp32 and rounds once.
#include <algorithm>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"
#include "core/float_storage.h"

namespace diffuse::cpu {

void CpuBackend::upsample_nearest2x_forward(const Tensor& x, const Tensor& y) {
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = storage_data<T>(x);
    T* out = storage_data<T>(y);
    // One task per input row: it writes output rows 2h and 2h+1.
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(x.numel()))
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = 0; r < h; ++r) {
        const T* source = in + (i * h + r) * w * c;
        T* top = out + ((i * 2 * h + 2 * r) * 2 * w) * c;
        for (int64_t col = 0; col < w; ++col) {
          std::copy(source + col * c, source + (col + 1) * c, top + 2 * col * c);
          std::copy(source + col * c, source + (col + 1) * c, top + (2 * col + 1) * c);
        }
        std::copy(top, top + 2 * w * c, top + 2 * w * c);
      }
  });
}

void CpuBackend::upsample_nearest2x_backward(const Tensor& dy, const Tensor& dx) {
  const int64_t n = dx.dim(0), h = dx.dim(1), w = dx.dim(2), c = dx.dim(3);
  with_storage_type(dy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = storage_data<T>(dy);
    T* out = storage_data<T>(dx);
    // Each input pixel gathers its four children (no write conflicts, no atomics).
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(dy.numel()))
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = 0; r < h; ++r) {
        const T* top = in + ((i * 2 * h + 2 * r) * 2 * w) * c;
        const T* bottom = top + 2 * w * c;
        T* target = out + (i * h + r) * w * c;
        for (int64_t col = 0; col < w; ++col) {
          const T* a = top + 2 * col * c;
          const T* b = bottom + 2 * col * c;
          T* t = target + col * c;
          for (int64_t ch = 0; ch < c; ++ch)
            t[ch] = from_float<T>((to_float(a[ch]) + to_float(a[c + ch])) + (to_float(b[ch]) + to_float(b[c + ch])));
        }
      }
  });
}

void CpuBackend::concat_channels(const Tensor& a, const Tensor& b, const Tensor& y) {
  const int64_t pixels = a.dim(0) * a.dim(1) * a.dim(2), ca = a.dim(3), cb = b.dim(3), cy = ca + cb;
  with_storage_type(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* left = storage_data<T>(a);
    const T* right = storage_data<T>(b);
    T* out = storage_data<T>(y);
#pragma omp parallel for schedule(static) if (worth_threads(y.numel()))
    for (int64_t p = 0; p < pixels; ++p) {
      std::copy(left + p * ca, left + (p + 1) * ca, out + p * cy);
      std::copy(right + p * cb, right + (p + 1) * cb, out + p * cy + ca);
    }
  });
}

void CpuBackend::split_channels(const Tensor& y, const Tensor& a, const Tensor& b) {
  const int64_t pixels = y.dim(0) * y.dim(1) * y.dim(2), cy = y.dim(3);
  const int64_t ca = a.defined() ? a.dim(3) : cy - b.dim(3), cb = cy - ca;
  with_storage_type(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = storage_data<T>(y);
    T* left = a.defined() ? storage_data<T>(a) : nullptr;
    T* right = b.defined() ? storage_data<T>(b) : nullptr;
#pragma omp parallel for schedule(static) if (worth_threads(y.numel()))
    for (int64_t p = 0; p < pixels; ++p) {
      if (left) std::copy(in + p * cy, in + p * cy + ca, left + p * ca);
      if (right) std::copy(in + p * cy + ca, in + (p + 1) * cy, right + p * cb);
    }
  });
}

}  // namespace diffuse::cpu
