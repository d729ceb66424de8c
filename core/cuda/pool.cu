// Pooling on the GPU over NHWC activations (the evaluation networks): max and
// average pooling with a square window (core/math/pool.h's geometry, shared
// with the CPU), and the global average pool. Forward: a thread per output
// element. Backward gathers, a thread per input element adding its windows'
// gradients in the CPU's order (output row-major): no atomics, and the same
// result on every run. Activations may be bf16 or f16: the kernels widen on
// load, take maxima and sums in fp32 (the global pool's in double, as for f32)
// and round each output once, as the CPU does.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/float_storage.h"
#include "core/math/pool.h"

namespace diffuse::cuda {

namespace {

PoolGeometry shape_of(const Tensor& x, const Tensor& y, const Pool2dWindow& window) {
  return PoolGeometry{x.dim(0), x.dim(1),      x.dim(2),      x.dim(3),      y.dim(1),
                      y.dim(2), window.kernel, window.stride, window.padding};
}

// Index of output (n, oy, ox, c) and of input (n, iy, ix, c).
__device__ inline int64_t at(int64_t n, int64_t y, int64_t x, int64_t c, int64_t height, int64_t width,
                             int64_t channels) {
  return ((n * height + y) * width + x) * channels + c;
}

template <typename T>
__global__ void max_pool_kernel(const T* x, T* y, PoolGeometry s, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t c = i % s.channels, ox = (i / s.channels) % s.out_width;
    const int64_t oy = (i / (s.channels * s.out_width)) % s.out_height,
                  n = i / (s.channels * s.out_width * s.out_height);
    float best = -INFINITY;
    for (int64_t iy = s.tap_begin(oy); iy < s.tap_end(oy, s.height); ++iy)
      for (int64_t ix = s.tap_begin(ox); ix < s.tap_end(ox, s.width); ++ix) {
        const float value = to_float(x[at(n, iy, ix, c, s.height, s.width, s.channels)]);
        best = best < value ? value : best;  // std::max's rule, as on the CPU
      }
    y[i] = from_float<T>(best);
  }
}

// Whether input pixel (iy, ix) is the first maximal tap of output (oy, ox) in channel c.
template <typename T>
__device__ bool is_winner(const T* x, const PoolGeometry& s, int64_t n, int64_t oy, int64_t ox, int64_t c, int64_t iy,
                          int64_t ix) {
  float best = -INFINITY;
  int64_t winner_y = -1, winner_x = -1;
  for (int64_t ty = s.tap_begin(oy); ty < s.tap_end(oy, s.height); ++ty)
    for (int64_t tx = s.tap_begin(ox); tx < s.tap_end(ox, s.width); ++tx) {
      const float value = to_float(x[at(n, ty, tx, c, s.height, s.width, s.channels)]);
      if (winner_y < 0 || value > best) {
        best = value;
        winner_y = ty;
        winner_x = tx;
      }
    }
  return winner_y == iy && winner_x == ix;
}

template <typename T>
__global__ void max_pool_backward_kernel(const T* x, const T* dy, T* dx, PoolGeometry s, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t c = i % s.channels, ix = (i / s.channels) % s.width;
    const int64_t iy = (i / (s.channels * s.width)) % s.height, n = i / (s.channels * s.width * s.height);
    float sum = 0.0f;
    for (int64_t oy = s.first_output(iy); oy <= s.last_output(iy, s.out_height); ++oy)
      for (int64_t ox = s.first_output(ix); ox <= s.last_output(ix, s.out_width); ++ox)
        if (is_winner(x, s, n, oy, ox, c, iy, ix))
          sum += to_float(dy[at(n, oy, ox, c, s.out_height, s.out_width, s.channels)]);
    dx[i] = from_float<T>(sum);
  }
}

template <typename T>
__global__ void avg_pool_kernel(const T* x, T* y, PoolGeometry s, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t c = i % s.channels, ox = (i / s.channels) % s.out_width;
    const int64_t oy = (i / (s.channels * s.out_width)) % s.out_height,
                  n = i / (s.channels * s.out_width * s.out_height);
    float sum = 0.0f;
    for (int64_t iy = s.tap_begin(oy); iy < s.tap_end(oy, s.height); ++iy)
      for (int64_t ix = s.tap_begin(ox); ix < s.tap_end(ox, s.width); ++ix)
        sum += to_float(x[at(n, iy, ix, c, s.height, s.width, s.channels)]);
    y[i] = from_float<T>(sum * s.average_weight(oy, ox));
  }
}

template <typename T>
__global__ void avg_pool_backward_kernel(const T* dy, T* dx, PoolGeometry s, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t c = i % s.channels, ix = (i / s.channels) % s.width;
    const int64_t iy = (i / (s.channels * s.width)) % s.height, n = i / (s.channels * s.width * s.height);
    float sum = 0.0f;
    for (int64_t oy = s.first_output(iy); oy <= s.last_output(iy, s.out_height); ++oy)
      for (int64_t ox = s.first_output(ix); ox <= s.last_output(ix, s.out_width); ++ox)
        sum += to_float(dy[at(n, oy, ox, c, s.out_height, s.out_width, s.channels)]) * s.average_weight(oy, ox);
    dx[i] = from_float<T>(sum);
  }
}

// y [N, C]: thread per (sample, channel) sums the pixels in order, in double (as the CPU).
template <typename T>
__global__ void global_avg_pool_kernel(const T* x, T* y, int64_t pixels, int64_t channels, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t n = i / channels, c = i % channels;
    double sum = 0.0;
    for (int64_t p = 0; p < pixels; ++p) sum += to_float(x[(n * pixels + p) * channels + c]);
    y[i] = from_float<T>(static_cast<float>(sum / static_cast<double>(pixels)));
  }
}

template <typename T>
__global__ void global_avg_pool_backward_kernel(const T* dy, T* dx, int64_t pixels, int64_t channels, float inverse,
                                                int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t c = i % channels, n = i / (pixels * channels);
    dx[i] = from_float<T>(to_float(dy[n * channels + c]) * inverse);
  }
}

}  // namespace

void CudaBackend::max_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(max_pool_kernel<T>, y.numel(), device_data<T>(x), device_data<T>(y), shape_of(x, y, window));
  });
}

void CudaBackend::max_pool2d_backward(const Tensor& x, const Tensor& dy, const Tensor& dx, const Pool2dWindow& window) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(max_pool_backward_kernel<T>, dx.numel(), device_data<T>(x), device_data<T>(dy), device_data<T>(dx),
                    shape_of(x, dy, window));
  });
}

void CudaBackend::avg_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(avg_pool_kernel<T>, y.numel(), device_data<T>(x), device_data<T>(y), shape_of(x, y, window));
  });
}

void CudaBackend::avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const Pool2dWindow& window) {
  with_storage_type(dy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(avg_pool_backward_kernel<T>, dx.numel(), device_data<T>(dy), device_data<T>(dx),
                    shape_of(dx, dy, window));
  });
}

void CudaBackend::global_avg_pool_forward(const Tensor& x, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(global_avg_pool_kernel<T>, y.numel(), device_data<T>(x), device_data<T>(y), x.dim(1) * x.dim(2),
                    x.dim(3));
  });
}

void CudaBackend::global_avg_pool_backward(const Tensor& dy, const Tensor& dx) {
  const int64_t pixels = dx.dim(1) * dx.dim(2);
  with_storage_type(dy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(global_avg_pool_backward_kernel<T>, dx.numel(), device_data<T>(dy), device_data<T>(dx), pixels,
                    dx.dim(3), 1.0f / static_cast<float>(pixels));
  });
}

}  // namespace diffuse::cuda
