// Bilinear resizing on the GPU with half-pixel centres (core/math/resize.h,
// the taps the CPU backend uses), NHWC, forward and backward. The backward
// gathers: a thread per input element adds, in the CPU's order, the weighted
// gradients of the outputs that read it: no atomics, the same result every run.
// Activations may be bf16 or f16: blends and sums are fp32, each output rounded once, as on the CPU.
#include <cmath>

#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/float_storage.h"
#include "core/math/resize.h"

namespace diffuse::cuda {

namespace {

struct ResizeShape {
  int64_t batch, height, width, channels, out_height, out_width;
};

template <typename T>
__global__ void resize_kernel(const T* x, T* y, ResizeShape s, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t c = i % s.channels, ox = (i / s.channels) % s.out_width;
    const int64_t oy = (i / (s.channels * s.out_width)) % s.out_height,
                  n = i / (s.channels * s.out_width * s.out_height);
    const ResizeTap row = resize_tap(oy, s.height, s.out_height), col = resize_tap(ox, s.width, s.out_width);
    const T* top = x + (n * s.height + row.low) * s.width * s.channels;
    const T* bottom = x + (n * s.height + row.high) * s.width * s.channels;
    const int64_t left = col.low * s.channels + c, right = col.high * s.channels + c;
    y[i] = from_float<T>(bilinear_blend(to_float(top[left]), to_float(top[right]), to_float(bottom[left]),
                                        to_float(bottom[right]), row, col));
  }
}

// The outputs along an axis that may read input pixel i: a superset, checked tap by tap.
__device__ void outputs_reading(int64_t i, int64_t in, int64_t out, int64_t& first, int64_t& last) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  first = static_cast<int64_t>(floor((static_cast<double>(i) - 1.0 + 0.5) / scale - 0.5)) - 1;
  last = static_cast<int64_t>(ceil((static_cast<double>(i) + 1.0 + 0.5) / scale - 0.5)) + 1;
  first = first < 0 ? 0 : first;
  last = last > out - 1 ? out - 1 : last;
}

template <typename T>
__global__ void resize_backward_kernel(const T* dy, T* dx, ResizeShape s, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t c = i % s.channels, ix = (i / s.channels) % s.width;
    const int64_t iy = (i / (s.channels * s.width)) % s.height, n = i / (s.channels * s.width * s.height);
    int64_t oy_first, oy_last, ox_first, ox_last;
    outputs_reading(iy, s.height, s.out_height, oy_first, oy_last);
    outputs_reading(ix, s.width, s.out_width, ox_first, ox_last);
    float sum = 0.0f;
    for (int64_t oy = oy_first; oy <= oy_last; ++oy) {
      const ResizeTap row = resize_tap(oy, s.height, s.out_height);
      if (row.low != iy && row.high != iy) continue;
      for (int64_t ox = ox_first; ox <= ox_last; ++ox) {
        const ResizeTap col = resize_tap(ox, s.width, s.out_width);
        if (col.low != ix && col.high != ix) continue;
        const float g = to_float(dy[((n * s.out_height + oy) * s.out_width + ox) * s.channels + c]);
        const BilinearWeights k = bilinear_weights(row, col);
        // The CPU's four adds in its order: top-left, top-right, bottom-left, bottom-right.
        if (row.low == iy && col.low == ix) sum += k.top_left * g;
        if (row.low == iy && col.high == ix) sum += k.top_right * g;
        if (row.high == iy && col.low == ix) sum += k.bottom_left * g;
        if (row.high == iy && col.high == ix) sum += k.bottom_right * g;
      }
    }
    dx[i] = from_float<T>(sum);
  }
}

}  // namespace

void CudaBackend::resize_bilinear_forward(const Tensor& x, const Tensor& y) {
  const ResizeShape s{x.dim(0), x.dim(1), x.dim(2), x.dim(3), y.dim(1), y.dim(2)};
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(resize_kernel<T>, y.numel(), device_data<T>(x), device_data<T>(y), s);
  });
}

void CudaBackend::resize_bilinear_backward(const Tensor& dy, const Tensor& dx) {
  const ResizeShape s{dx.dim(0), dx.dim(1), dx.dim(2), dx.dim(3), dy.dim(1), dy.dim(2)};
  with_storage_type(dy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(resize_backward_kernel<T>, dx.numel(), device_data<T>(dy), device_data<T>(dx), s);
  });
}

}  // namespace diffuse::cuda
