// Element-wise ops on the GPU: SiLU (core/math/activation.h, shared with the
// CPU) and ReLU, the per-channel vector add of a ResBlock's time embedding, the flat
// add / accumulate / scale of residuals and gradient plumbing, and the
// per-sample combination and clamp of the diffusion arithmetic. One thread per
// element in grid-stride loops; each element is read before it is written, so
// outputs may alias inputs as ops.h allows.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/cuda/kernels.h"
#include "core/math/activation.h"

namespace diffuse::cuda {

namespace {

__global__ void silu_kernel(const float* x, float* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = silu(x[i]);
}

__global__ void silu_backward_kernel(const float* x, const float* dy, float* dx, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) dx[i] = dy[i] * silu_derivative(x[i]);
}

__global__ void relu_kernel(const float* x, float* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void relu_backward_kernel(const float* x, const float* dy, float* dx, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
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

// As std::min(std::max(x, low), high) on the CPU: NaN stays NaN (fminf/fmaxf would drop it).
__global__ void clamp_kernel(const float* x, float low, float high, float* y, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const float raised = x[i] < low ? low : x[i];
    y[i] = high < raised ? high : raised;
  }
}

}  // namespace

void CudaBackend::silu_forward(const Tensor& x, const Tensor& y) {
  const int64_t count = x.numel();
  if (count == 0) return;
  silu_kernel<<<grid_for(count), kThreads, 0, stream()>>>(device_data<float>(x), device_data<float>(y), count);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::silu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  const int64_t count = x.numel();
  if (count == 0) return;
  silu_backward_kernel<<<grid_for(count), kThreads, 0, stream()>>>(device_data<float>(x), device_data<float>(dy),
                                                                   device_data<float>(dx), count);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::relu_forward(const Tensor& x, const Tensor& y) {
  const int64_t count = x.numel();
  if (count == 0) return;
  relu_kernel<<<grid_for(count), kThreads, 0, stream()>>>(device_data<float>(x), device_data<float>(y), count);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::relu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  const int64_t count = x.numel();
  if (count == 0) return;
  relu_backward_kernel<<<grid_for(count), kThreads, 0, stream()>>>(device_data<float>(x), device_data<float>(dy),
                                                                   device_data<float>(dx), count);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::add_channel_vector_forward(const Tensor& x, const Tensor& v, const Tensor& y) {
  const int64_t count = x.numel();
  if (count == 0) return;
  add_channel_vector_kernel<<<grid_for(count), kThreads, 0, stream()>>>(
      device_data<float>(x), device_data<float>(v), device_data<float>(y), x.dim(1) * x.dim(2), x.dim(3), count);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::add_channel_vector_backward(const Tensor& dy, const Tensor& dx, const Tensor& dv) {
  // The ResBlock usually passes dx == dy (the gradient flows through unchanged).
  if (dx.defined() && dx.raw() != dy.raw() && dy.nbytes() > 0)
    CUDA_CHECK(cudaMemcpyAsync(dx.raw(), dy.raw(), dy.nbytes(), cudaMemcpyDeviceToDevice, stream()));
  column_sums(device_data<float>(dy), dy.dim(0), dy.dim(1) * dy.dim(2), dy.dim(3), device_data<float>(dv),
              Reduce::Write);
}

void CudaBackend::add(const Tensor& a, const Tensor& b, const Tensor& y) {
  const int64_t count = a.numel();
  if (count == 0) return;
  add_kernel<<<grid_for(count), kThreads, 0, stream()>>>(device_data<float>(a), device_data<float>(b),
                                                         device_data<float>(y), count);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::accumulate(const Tensor& y, const Tensor& x) {
  const int64_t count = y.numel();
  if (count == 0) return;
  accumulate_kernel<<<grid_for(count), kThreads, 0, stream()>>>(device_data<float>(y), device_data<float>(x), count);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::scale(const Tensor& x, float alpha, const Tensor& y) {
  const int64_t count = x.numel();
  if (count == 0) return;
  scale_kernel<<<grid_for(count), kThreads, 0, stream()>>>(device_data<float>(x), alpha, device_data<float>(y), count);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::combine_per_sample(const Tensor& p, const Tensor& a, const Tensor& q, const Tensor& b,
                                     const Tensor& y) {
  const int64_t count = p.numel();
  if (count == 0) return;
  combine_per_sample_kernel<<<grid_for(count), kThreads, 0, stream()>>>(device_data<float>(p), device_data<float>(a),
                                                                        device_data<float>(q), device_data<float>(b),
                                                                        device_data<float>(y), count / p.dim(0), count);
  CUDA_CHECK_LAUNCH();
}

void CudaBackend::clamp(const Tensor& x, float low, float high, const Tensor& y) {
  const int64_t count = x.numel();
  if (count == 0) return;
  clamp_kernel<<<grid_for(count), kThreads, 0, stream()>>>(device_data<float>(x), low, high, device_data<float>(y),
                                                           count);
  CUDA_CHECK_LAUNCH();
}

}  // namespace diffuse::cuda
