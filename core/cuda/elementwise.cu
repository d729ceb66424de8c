// Element-wise ops on the GPU: SiLU and ReLU (core/math/activation.h, shared
// with the CPU), the per-channel vector add of a ResBlock's time embedding, the flat
// per-channel scale and shift of the adaptive group norm, the flat
// add / accumulate / scale of residuals and gradient plumbing, the memset
// that zeroes gradients, and the
// per-sample combination and clamp of the diffusion arithmetic. One thread per
// element in grid-stride loops; each element is read before it is written, so
// outputs may alias inputs as ops.h allows. Every kernel here but the memset
// is templated on the activations' storage type T (f32, bf16 or f16): they widen
// on load, compute in fp32 and round once on store, as the CPU backend does.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/cuda/kernels.h"
#include "core/float_storage.h"
#include "core/math/activation.h"
#include "core/math/elementwise.h"

namespace diffuse::cuda {

namespace {

template <typename T>
__global__ void silu_kernel(const T* x, T* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = from_float<T>(silu(to_float(x[i])));
}

template <typename T>
__global__ void silu_backward_kernel(const T* x, const T* dy, T* dx, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride())
    dx[i] = from_float<T>(to_float(dy[i]) * silu_derivative(to_float(x[i])));
}

template <typename T>
__global__ void relu_kernel(const T* x, T* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = from_float<T>(relu(to_float(x[i])));
}

template <typename T>
__global__ void relu_backward_kernel(const T* x, const T* dy, T* dx, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride())
    dx[i] = from_float<T>(relu_input_grad(to_float(x[i]), to_float(dy[i])));
}

// x [N, HW, C] + v [N, C].
template <typename T>
__global__ void add_channel_vector_kernel(const T* x, const float* v, T* y, int64_t pixels, int64_t channels,
                                          int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t n = i / (pixels * channels), c = i % channels;
    y[i] = from_float<T>(to_float(x[i]) + v[n * channels + c]);
  }
}

// x [N, HW, C] * (1 + scale [N, C]) + shift [N, C], scale and shift side by side in [N, 2C].
template <typename T>
__global__ void scale_shift_channels_kernel(const T* x, const float* scale_shift, T* y, int64_t pixels,
                                            int64_t channels, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t n = i / (pixels * channels), c = i % channels;
    const float* scale = scale_shift + n * 2 * channels;
    y[i] = from_float<T>(scale_shift_value(to_float(x[i]), scale[c], scale[channels + c]));
  }
}

template <typename T>
__global__ void scale_shift_channels_backward_kernel(const float* scale_shift, const T* dy, T* dx, int64_t pixels,
                                                     int64_t channels, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t n = i / (pixels * channels), c = i % channels;
    dx[i] = from_float<T>(scale_shift_input_grad(to_float(dy[i]), scale_shift[n * 2 * channels + c]));
  }
}

// One thread per (sample, channel) sums over the pixels in double, in pixel order (deterministic, as on the CPU);
// neighbouring threads read neighbouring channels.
template <typename T>
__global__ void scale_shift_channels_sums_kernel(const T* x, const T* dy, float* dscale_shift, int64_t pixels,
                                                 int64_t channels, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t n = i / channels, c = i % channels;
    double scale_sum = 0.0, shift_sum = 0.0;
    for (int64_t p = 0; p < pixels; ++p) {
      const int64_t at = (n * pixels + p) * channels + c;
      const float grad = to_float(dy[at]);
      scale_sum += static_cast<double>(grad) * to_float(x[at]);
      shift_sum += grad;
    }
    dscale_shift[n * 2 * channels + c] = static_cast<float>(scale_sum);
    dscale_shift[n * 2 * channels + channels + c] = static_cast<float>(shift_sum);
  }
}

template <typename T>
__global__ void add_kernel(const T* a, const T* b, T* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}

template <typename T>
__global__ void accumulate_kernel(T* y, const T* x, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = from_float<T>(to_float(y[i]) + to_float(x[i]));
}

template <typename T>
__global__ void scale_kernel(const T* x, float alpha, T* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = from_float<T>(alpha * to_float(x[i]));
}

template <typename T>
__global__ void combine_per_sample_kernel(const T* p, const float* a, const T* q, const float* b, T* y,
                                          int64_t per_sample, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t n = i / per_sample;
    y[i] = from_float<T>(combine_value(a[n], to_float(p[i]), b[n], to_float(q[i])));
  }
}

template <typename T>
__global__ void clamp_kernel(const T* x, float low, float high, T* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride())
    y[i] = from_float<T>(clamp_value(to_float(x[i]), low, high));
}

}  // namespace

void CudaBackend::silu_forward(const Tensor& x, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(silu_kernel<T>, x.numel(), device_data<T>(x), device_data<T>(y));
  });
}

void CudaBackend::silu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(silu_backward_kernel<T>, x.numel(), device_data<T>(x), device_data<T>(dy), device_data<T>(dx));
  });
}

void CudaBackend::relu_forward(const Tensor& x, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(relu_kernel<T>, x.numel(), device_data<T>(x), device_data<T>(y));
  });
}

void CudaBackend::relu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(relu_backward_kernel<T>, x.numel(), device_data<T>(x), device_data<T>(dy), device_data<T>(dx));
  });
}

void CudaBackend::add_channel_vector_forward(const Tensor& x, const Tensor& v, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(add_channel_vector_kernel<T>, x.numel(), device_data<T>(x), device_data<float>(v),
                    device_data<T>(y), x.dim(1) * x.dim(2), x.dim(3));
  });
}

void CudaBackend::add_channel_vector_backward(const Tensor& dy, const Tensor& dx, const Tensor& dv) {
  // The ResBlock usually passes dx == dy (the gradient flows through unchanged).
  if (dx.defined() && dx.raw() != dy.raw() && dy.nbytes() > 0)
    CUDA_CHECK(cudaMemcpyAsync(dx.raw(), dy.raw(), dy.nbytes(), cudaMemcpyDeviceToDevice, stream()));
  column_sums(dy.raw(), dy.dtype(), dy.dim(0), dy.dim(1) * dy.dim(2), dy.dim(3), device_data<float>(dv), Reduce::Write);
}

void CudaBackend::scale_shift_channels_forward(const Tensor& x, const Tensor& scale_shift, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(scale_shift_channels_kernel<T>, x.numel(), device_data<T>(x), device_data<float>(scale_shift),
                    device_data<T>(y), x.dim(1) * x.dim(2), x.dim(3));
  });
}

void CudaBackend::scale_shift_channels_backward(const Tensor& x, const Tensor& scale_shift, const Tensor& dy,
                                                const Tensor& dx, const Tensor& dscale_shift) {
  const int64_t pixels = x.dim(1) * x.dim(2), channels = x.dim(3);
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // The sums first: dx may alias dy.
    if (dscale_shift.defined())
      launch_elements(scale_shift_channels_sums_kernel<T>, x.dim(0) * channels, device_data<T>(x), device_data<T>(dy),
                      device_data<float>(dscale_shift), pixels, channels);
    if (dx.defined())
      launch_elements(scale_shift_channels_backward_kernel<T>, x.numel(), device_data<float>(scale_shift),
                      device_data<T>(dy), device_data<T>(dx), pixels, channels);
  });
}

void CudaBackend::add(const Tensor& a, const Tensor& b, const Tensor& y) {
  with_storage_type(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(add_kernel<T>, a.numel(), device_data<T>(a), device_data<T>(b), device_data<T>(y));
  });
}

void CudaBackend::accumulate(const Tensor& y, const Tensor& x) {
  with_storage_type(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(accumulate_kernel<T>, y.numel(), device_data<T>(y), device_data<T>(x));
  });
}

void CudaBackend::scale(const Tensor& x, float alpha, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(scale_kernel<T>, x.numel(), device_data<T>(x), alpha, device_data<T>(y));
  });
}

void CudaBackend::fill_zero(const Tensor& x) { CUDA_CHECK(cudaMemsetAsync(x.raw(), 0, x.nbytes(), stream())); }

void CudaBackend::combine_per_sample(const Tensor& p, const Tensor& a, const Tensor& q, const Tensor& b,
                                     const Tensor& y) {
  const int64_t count = p.numel();
  if (count == 0) return;
  with_storage_type(p.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(combine_per_sample_kernel<T>, count, device_data<T>(p), device_data<float>(a), device_data<T>(q),
                    device_data<float>(b), device_data<T>(y), count / p.dim(0));
  });
}

void CudaBackend::clamp(const Tensor& x, float low, float high, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_elements(clamp_kernel<T>, x.numel(), device_data<T>(x), low, high, device_data<T>(y));
  });
}

}  // namespace diffuse::cuda
