// Per-sample losses on the GPU, weighted mean-squared error and pseudo-Huber (a block per
// sample, summed in double in a fixed order) and the gradient of
// loss_scale * their sum, with the CPU's arithmetic.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/math/pseudo_huber.h"
#include "core/math/step_decision.h"

namespace diffuse::cuda {

namespace {

// Sum of (pred - target)^2 over sample blockIdx.x, in double, on thread 0 (0 elsewhere).
__device__ double sample_squared_distance(const float* pred, const float* target, int64_t elements) {
  const int64_t s = blockIdx.x;
  const float* p = pred + s * elements;
  const float* q = target + s * elements;
  double total = 0.0;
  for (int64_t i = threadIdx.x; i < elements; i += blockDim.x) {
    const double diff = static_cast<double>(p[i]) - q[i];
    total += diff * diff;
  }
  return block_sum(total);
}

__global__ void mse_per_sample_kernel(const float* pred, const float* target, const float* weights, float* loss,
                                      int64_t elements) {
  const double squared = sample_squared_distance(pred, target, elements);
  if (threadIdx.x == 0)
    loss[blockIdx.x] = static_cast<float>(weights[blockIdx.x] * squared / static_cast<double>(elements));
}

// `state` (null: none) holds the dynamic loss scale, read here so that the host never waits for it.
__global__ void mse_backward_kernel(const float* pred, const float* target, const float* weights, float factor,
                                    const StepState* state, float* dpred, int64_t elements, int64_t count) {
  const float loss_scale = loss_scale_times(factor, state);
  for (int64_t k = grid_start(); k < count; k += grid_stride()) {
    const int64_t s = k / elements;
    const float coefficient = static_cast<float>(2.0 * loss_scale * weights[s] / static_cast<double>(elements));
    dpred[k] = coefficient * (pred[k] - target[k]);
  }
}

__global__ void pseudo_huber_per_sample_kernel(const float* pred, const float* target, const float* weights, float c,
                                               float* loss, int64_t elements) {
  const double squared = sample_squared_distance(pred, target, elements);
  if (threadIdx.x == 0) loss[blockIdx.x] = pseudo_huber_value(squared, c, weights[blockIdx.x]);
}

// A block per sample: thread 0's sum becomes the sample's coefficient, which every thread then applies.
__global__ void pseudo_huber_backward_kernel(const float* pred, const float* target, const float* weights, float c,
                                             float factor, const StepState* state, float* dpred, int64_t elements) {
  __shared__ float coefficient;
  const double squared = sample_squared_distance(pred, target, elements);
  if (threadIdx.x == 0)
    coefficient = pseudo_huber_coefficient(squared, c, weights[blockIdx.x], loss_scale_times(factor, state));
  __syncthreads();
  const int64_t offset = static_cast<int64_t>(blockIdx.x) * elements;
  for (int64_t i = threadIdx.x; i < elements; i += blockDim.x)
    dpred[offset + i] = coefficient * (pred[offset + i] - target[offset + i]);
}

const StepState* optional_scale_state(const LossScale& loss_scale) {
  return loss_scale.step_state.defined() ? device_data<const StepState>(loss_scale.step_state) : nullptr;
}

}  // namespace

void CudaBackend::mse_loss_forward(const Tensor& pred, const Tensor& target, const Tensor& weights,
                                   const Tensor& per_sample) {
  const int64_t n = pred.dim(0), elements = pred.numel() / n;
  launch_kernel(mse_per_sample_kernel, static_cast<unsigned>(n), kThreads, device_data<float>(pred),
                device_data<float>(target), device_data<float>(weights), device_data<float>(per_sample), elements);
}

void CudaBackend::mse_loss_backward(const Tensor& pred, const Tensor& target, const Tensor& weights,
                                    const LossScale& loss_scale, const Tensor& dpred) {
  const int64_t n = pred.dim(0), count = pred.numel(), elements = count / n;
  launch_kernel(mse_backward_kernel, grid_for(count), kThreads, device_data<float>(pred), device_data<float>(target),
                device_data<float>(weights), loss_scale.factor, optional_scale_state(loss_scale),
                device_data<float>(dpred), elements, count);
}

void CudaBackend::pseudo_huber_loss_forward(const Tensor& pred, const Tensor& target, const Tensor& weights, float c,
                                            const Tensor& per_sample) {
  const int64_t n = pred.dim(0), elements = pred.numel() / n;
  launch_kernel(pseudo_huber_per_sample_kernel, static_cast<unsigned>(n), kThreads, device_data<float>(pred),
                device_data<float>(target), device_data<float>(weights), c, device_data<float>(per_sample), elements);
}

void CudaBackend::pseudo_huber_loss_backward(const Tensor& pred, const Tensor& target, const Tensor& weights, float c,
                                             const LossScale& loss_scale, const Tensor& dpred) {
  const int64_t n = pred.dim(0), elements = pred.numel() / n;
  launch_kernel(pseudo_huber_backward_kernel, static_cast<unsigned>(n), kThreads, device_data<float>(pred),
                device_data<float>(target), device_data<float>(weights), c, loss_scale.factor,
                optional_scale_state(loss_scale), device_data<float>(dpred), elements);
}

}  // namespace diffuse::cuda
