// Element-wise ops on the GPU: SiLU and ReLU (core/math/activation.h, shared
// with the CPU), the per-channel vector add of a ResBlock's time embedding, the flat
// add / accumulate / scale of residuals and gradient plumbing, and the
// per-sample combination and clamp of the diffusion arithmetic. One thread per
// element in grid-stride loops; each element is read before it is written, so
// outputs may alias inputs as ops.h allows.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/cuda/kernels.h"
#include "core/math/activation.h"
#include "core/math/elementwise.h"

namespace diffuse::cuda {

namespace {

__global__ void silu_kernel(const float* x, float* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = silu(x[i]);
}

__global__ void silu_backward_kernel(const float* x, const float* dy, float* dx, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) dx[i] = dy[i] * silu_derivative(x[i]);
}

__global__ void relu_kernel(const float* x, float* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = relu(x[i]);
}

__global__ void relu_backward_kernel(const float* x, const float* dy, float* dx, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) dx[i] = relu_input_grad(x[i], dy[i]);
}

// x [N, HW, C] + v [N, C].
__global__ void add_channel_vector_kernel(const float* x, const float* v, float* y, int64_t pixels, int64_t channels,
                                          int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t n = i / (pixels * channels), c = i % channels;
    y[i] = x[i] + v[n * channels + c];
  }
}

__global__ void add_kernel(const float* a, const float* b, float* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = a[i] + b[i];
}

__global__ void accumulate_kernel(float* y, const float* x, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] += x[i];
}

__global__ void scale_kernel(const float* x, float alpha, float* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = alpha * x[i];
}

__global__ void combine_per_sample_kernel(const float* p, const float* a, const float* q, const float* b, float* y,
                                          int64_t per_sample, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const int64_t n = i / per_sample;
    y[i] = a[n] * p[i] + b[n] * q[i];
  }
}

__global__ void clamp_kernel(const float* x, float low, float high, float* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = clamp_value(x[i], low, high);
}

}  // namespace

void CudaBackend::silu_forward(const Tensor& x, const Tensor& y) {
  launch_elements(silu_kernel, x.numel(), device_data<float>(x), device_data<float>(y));
}

void CudaBackend::silu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  launch_elements(silu_backward_kernel, x.numel(), device_data<float>(x), device_data<float>(dy),
                  device_data<float>(dx));
}

void CudaBackend::relu_forward(const Tensor& x, const Tensor& y) {
  launch_elements(relu_kernel, x.numel(), device_data<float>(x), device_data<float>(y));
}

void CudaBackend::relu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  launch_elements(relu_backward_kernel, x.numel(), device_data<float>(x), device_data<float>(dy),
                  device_data<float>(dx));
}

void CudaBackend::add_channel_vector_forward(const Tensor& x, const Tensor& v, const Tensor& y) {
  launch_elements(add_channel_vector_kernel, x.numel(), device_data<float>(x), device_data<float>(v),
                  device_data<float>(y), x.dim(1) * x.dim(2), x.dim(3));
}

void CudaBackend::add_channel_vector_backward(const Tensor& dy, const Tensor& dx, const Tensor& dv) {
  // The ResBlock usually passes dx == dy (the gradient flows through unchanged).
  if (dx.defined() && dx.raw() != dy.raw() && dy.nbytes() > 0)
    CUDA_CHECK(cudaMemcpyAsync(dx.raw(), dy.raw(), dy.nbytes(), cudaMemcpyDeviceToDevice, stream()));
  column_sums(device_data<float>(dy), dy.dim(0), dy.dim(1) * dy.dim(2), dy.dim(3), device_data<float>(dv),
              Reduce::Write);
}

void CudaBackend::add(const Tensor& a, const Tensor& b, const Tensor& y) {
  launch_elements(add_kernel, a.numel(), device_data<float>(a), device_data<float>(b), device_data<float>(y));
}

void CudaBackend::accumulate(const Tensor& y, const Tensor& x) {
  launch_elements(accumulate_kernel, y.numel(), device_data<float>(y), device_data<float>(x));
}

void CudaBackend::scale(const Tensor& x, float alpha, const Tensor& y) {
  launch_elements(scale_kernel, x.numel(), device_data<float>(x), alpha, device_data<float>(y));
}

void CudaBackend::combine_per_sample(const Tensor& p, const Tensor& a, const Tensor& q, const Tensor& b,
                                     const Tensor& y) {
  const int64_t count = p.numel();
  if (count == 0) return;
  launch_elements(combine_per_sample_kernel, count, device_data<float>(p), device_data<float>(a), device_data<float>(q),
                  device_data<float>(b), device_data<float>(y), count / p.dim(0));
}

void CudaBackend::clamp(const Tensor& x, float low, float high, const Tensor& y) {
  launch_elements(clamp_kernel, x.numel(), device_data<float>(x), low, high, device_data<float>(y));
}

}  // namespace diffuse::cuda
