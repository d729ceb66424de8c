// Resampling and channel plumbing on the GPU: nearest-neighbour 2x upsampling
// (the U-Net decoder) and channel concat/split (its skip connections), NHWC,
// one thread per output element. The upsampling gradient gathers each input
// pixel's four children in the CPU's order, so it matches bit for bit.
// Activations are f32, bf16 or f16 (one type per call): copies move the
// stored values, the gradient sums in fp32 and rounds once.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/float_storage.h"

namespace diffuse::cuda {

namespace {

// y [N, 2H, 2W, C] from x [N, H, W, C].
template <typename T>
__global__ void upsample_kernel(const T* x, T* y, int64_t height, int64_t width, int64_t channels, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t c = i % channels, pixel = i / channels;
    const int64_t ox = pixel % (2 * width), row = pixel / (2 * width);  // row = n * 2H + oy
    const int64_t oy = row % (2 * height), n = row / (2 * height);
    y[i] = x[((n * height + oy / 2) * width + ox / 2) * channels + c];
  }
}

// dx [N, H, W, C] from dy [N, 2H, 2W, C].
template <typename T>
__global__ void upsample_backward_kernel(const T* dy, T* dx, int64_t width, int64_t channels, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t c = i % channels, pixel = i / channels;
    const int64_t x = pixel % width, row = pixel / width;  // row = n * H + y
    const int64_t top = ((2 * row) * 2 * width + 2 * x) * channels + c;
    const int64_t bottom = top + 2 * width * channels;
    dx[i] = from_float<T>((to_float(dy[top]) + to_float(dy[top + channels])) +
                          (to_float(dy[bottom]) + to_float(dy[bottom + channels])));
  }
}

// y [P, Ca + Cb] = [a [P, Ca], b [P, Cb]].
template <typename T>
__global__ void concat_kernel(const T* a, const T* b, T* y, int64_t ca, int64_t cb, int64_t count) {
  const int64_t cy = ca + cb;
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t pixel = i / cy, c = i % cy;
    y[i] = c < ca ? a[pixel * ca + c] : b[pixel * cb + (c - ca)];
  }
}

// a [P, Ca], b [P, Cb] (either may be null) from y [P, Ca + Cb].
template <typename T>
__global__ void split_kernel(const T* y, T* a, T* b, int64_t ca, int64_t cb, int64_t count) {
  const int64_t cy = ca + cb;
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t pixel = i / cy, c = i % cy;
    if (c < ca) {
      if (a != nullptr) a[pixel * ca + c] = y[i];
    } else if (b != nullptr) {
      b[pixel * cb + (c - ca)] = y[i];
    }
  }
}

}  // namespace

void CudaBackend::upsample_nearest2x_forward(const Tensor& x, const Tensor& y) {
  const int64_t count = y.numel();
  if (count == 0) return;
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_kernel(upsample_kernel<T>, grid_for(count), kThreads, device_data<T>(x), device_data<T>(y), x.dim(1),
                  x.dim(2), x.dim(3), count);
  });
}

void CudaBackend::upsample_nearest2x_backward(const Tensor& dy, const Tensor& dx) {
  const int64_t count = dx.numel();
  if (count == 0) return;
  with_storage_type(dy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_kernel(upsample_backward_kernel<T>, grid_for(count), kThreads, device_data<T>(dy), device_data<T>(dx),
                  dx.dim(2), dx.dim(3), count);
  });
}

void CudaBackend::concat_channels(const Tensor& a, const Tensor& b, const Tensor& y) {
  const int64_t count = y.numel();
  if (count == 0) return;
  with_storage_type(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_kernel(concat_kernel<T>, grid_for(count), kThreads, device_data<T>(a), device_data<T>(b), device_data<T>(y),
                  a.dim(3), b.dim(3), count);
  });
}

void CudaBackend::split_channels(const Tensor& y, const Tensor& a, const Tensor& b) {
  const int64_t count = y.numel(), cy = y.dim(3);
  if (count == 0) return;
  const int64_t ca = a.defined() ? a.dim(3) : cy - b.dim(3);
  with_storage_type(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_kernel(split_kernel<T>, grid_for(count), kThreads, device_data<T>(y),
                  a.defined() ? device_data<T>(a) : nullptr, b.defined() ? device_data<T>(b) : nullptr, ca, cy - ca,
                  count);
  });
}

}  // namespace diffuse::cuda
