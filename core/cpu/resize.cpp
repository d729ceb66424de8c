// CPU bilinear resizing with half-pixel centres (PyTorch's
// align_corners=False), forward and backward: Inception-v3 sees every image
// at 299x299. Each output pixel blends two rows and two columns of input
// pixels; the per-axis taps (core/math/resize.h, shared with the CUDA
// backend) are computed once per call. Activations may be bf16 or f16: the
// blends and the backward's sums are fp32, each output rounded once.
#include "core/math/resize.h"

#include <algorithm>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/fp32_values.h"
#include "core/float_storage.h"

namespace diffuse::cpu {

namespace {

std::vector<ResizeTap> axis_taps(int64_t in, int64_t out) {
  std::vector<ResizeTap> taps;
  taps.reserve(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) taps.push_back(resize_tap(o, in, out));
  return taps;
}

template <typename T>
void resize_forward(const Tensor& x, const Tensor& y) {
  const int64_t batch = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3), ho = y.dim(1), wo = y.dim(2);
  const std::vector<ResizeTap> rows = axis_taps(h, ho), cols = axis_taps(w, wo);
  const T* in = storage_data<T>(x);
  T* out = storage_data<T>(y);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t oy = 0; oy < ho; ++oy) {
      const ResizeTap& row = rows[oy];
      const T* top = in + (n * h + row.low) * w * c;
      const T* bottom = in + (n * h + row.high) * w * c;
      for (int64_t ox = 0; ox < wo; ++ox) {
        const ResizeTap& col = cols[ox];
        const int64_t left = col.low * c, right = col.high * c;
        T* target = out + ((n * ho + oy) * wo + ox) * c;
        for (int64_t ch = 0; ch < c; ++ch)
          target[ch] =
              from_float<T>(bilinear_blend(to_float(top[left + ch]), to_float(top[right + ch]),
                                           to_float(bottom[left + ch]), to_float(bottom[right + ch]), row, col));
      }
    }
}

template <typename T>
void resize_backward(const Tensor& dy, const Tensor& dx) {
  const int64_t batch = dx.dim(0), h = dx.dim(1), w = dx.dim(2), c = dx.dim(3), ho = dy.dim(1), wo = dy.dim(2);
  const std::vector<ResizeTap> rows = axis_taps(h, ho), cols = axis_taps(w, wo);
  const T* grad_out = storage_data<T>(dy);
  const int64_t image = h * w * c;
  // Scatter with the forward's weights; one image per thread, so no two threads touch one pixel. The image's
  // gradient is summed in fp32 and rounded into dx once.
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < batch; ++n) {
    T* target = storage_data<T>(dx) + n * image;
    float* sums = fp32_values(target, image);
    std::fill(sums, sums + image, 0.0f);
    for (int64_t oy = 0; oy < ho; ++oy) {
      const ResizeTap& row = rows[oy];
      float* top = sums + row.low * w * c;
      float* bottom = sums + row.high * w * c;
      for (int64_t ox = 0; ox < wo; ++ox) {
        const ResizeTap& col = cols[ox];
        const BilinearWeights k = bilinear_weights(row, col);
        const int64_t left = col.low * c, right = col.high * c;
        const T* source = grad_out + ((n * ho + oy) * wo + ox) * c;
        for (int64_t ch = 0; ch < c; ++ch) {
          const float g = to_float(source[ch]);
          top[left + ch] += k.top_left * g;
          top[right + ch] += k.top_right * g;
          bottom[left + ch] += k.bottom_left * g;
          bottom[right + ch] += k.bottom_right * g;
        }
      }
    }
    store_fp32_values(sums, target, image);
  }
}

}  // namespace

void CpuBackend::resize_bilinear_forward(const Tensor& x, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) { resize_forward<decltype(tag)>(x, y); });
}

void CpuBackend::resize_bilinear_backward(const Tensor& dy, const Tensor& dx) {
  with_storage_type(dy.dtype(), [&](auto tag) { resize_backward<decltype(tag)>(dy, dx); });
}

}  // namespace diffuse::cpu
