// Optimiser and flat-buffer math on the GPU: AdamW (core/math/adamw.h, the
// CPU's formula; step constants computed once on the host), EMA
// (core/math/elementwise.h), and the sum
// of squares behind gradient clipping and the loss scaler's overflow check.
//
// The sum of squares is a two-stage reduction in double with a fixed grid, so
// the result does not depend on the GPU and repeats bit for bit; squares in
// double cannot overflow (FLT_MAX^2 < DBL_MAX), so only a real inf/NaN in the
// input makes it non-finite, and then it propagates.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/math/adamw.h"
#include "core/math/elementwise.h"

namespace diffuse::cuda {

namespace {

constexpr int kSumBlocks = 1024;

__global__ void adamw_kernel(AdamWCoefficients c, float* params, const float* grads, float* m, float* v,
                             int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) adamw_element(c, grads[i], params[i], m[i], v[i]);
}

__global__ void ema_kernel(float* average, const float* params, float decay, int64_t count) {
  for (int64_t i = grid_start(); i < count; i += grid_stride()) average[i] = ema_average(average[i], params[i], decay);
}

// Stage 1: block b sums the squares of its grid-stride share into partial[b].
__global__ void partial_squares_kernel(const float* x, int64_t count, double* partial) {
  double total = 0.0;
  for (int64_t i = grid_start(); i < count; i += grid_stride()) {
    const double value = x[i];
    total += value * value;
  }
  total = block_sum(total);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// Stage 2: one block adds the partials.
__global__ void sum_partials_kernel(const double* partial, int count, double* result) {
  double total = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) total += partial[i];
  total = block_sum(total);
  if (threadIdx.x == 0) *result = total;
}

}  // namespace

void CudaBackend::adamw_update(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
                               const AdamWStep& step) {
  const AdamWCoefficients c =
      adamw_coefficients(step.lr, step.beta1, step.beta2, step.eps, step.weight_decay, step.step, step.grad_scale);
  launch_elements(adamw_kernel, params.numel(), c, device_data<float>(params), device_data<float>(grads),
                  device_data<float>(m), device_data<float>(v));
}

void CudaBackend::ema_update(const Tensor& ema, const Tensor& params, float decay) {
  launch_elements(ema_kernel, params.numel(), device_data<float>(ema), device_data<float>(params), decay);
}

double CudaBackend::sum_of_squares(const Tensor& x) {
  DeviceContext& device = context();
  const Tensor scratch = scratch_doubles(kSumBlocks + 1);
  double* partial = device_data<double>(scratch);
  launch_kernel(partial_squares_kernel, kSumBlocks, kThreads, device_data<float>(x), x.numel(), partial);
  launch_kernel(sum_partials_kernel, 1, kThreads, partial, kSumBlocks, partial + kSumBlocks);
  double result = 0.0;
  CUDA_CHECK(cudaMemcpyAsync(&result, partial + kSumBlocks, sizeof(result), cudaMemcpyDeviceToHost, device.stream()));
  device.check_faults();  // waits for the stream, so `result` has arrived
  return result;
}

}  // namespace diffuse::cuda
