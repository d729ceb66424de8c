// Optimiser and flat-buffer math on the GPU: AdamW (core/math/adamw.h, the
// CPU's formula; step constants computed once on the host), EMA
// (core/math/elementwise.h), the sum of squares behind gradient clipping and
// the loss scaler's overflow check, and the step decision taken from it
// (core/math/step_decision.h). The decision stays in device memory: AdamW and
// EMA read its gradient factor and skip flag there, so no step waits for the host.
//
// The sum of squares is a two-stage reduction in double with a fixed grid, so
// the result does not depend on the GPU and repeats bit for bit; squares in
// double cannot overflow (FLT_MAX^2 < DBL_MAX), so only a real inf/NaN in the
// input makes it non-finite, and then it propagates.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/math/adamw.h"
#include "core/math/elementwise.h"
#include "core/math/step_decision.h"

namespace diffuse::cuda {

namespace {

constexpr int kSumBlocks = 1024;

// `decision`, when not null, replaces the host's gradient factor, or skips the update.
__global__ void adamw_kernel(AdamWCoefficients c, const StepState* decision, float* params, const float* grads,
                             float* m, float* v, int64_t count) {
  if (decision != nullptr) {
    if (decision->skip) return;
    c.grad_scale = decision->grad_factor;
  }
  for (int64_t i = grid_start(); i < count; i += grid_stride()) adamw_element(c, grads[i], params[i], m[i], v[i]);
}

__global__ void ema_kernel(const StepState* decision, float* average, const float* params, float decay, int64_t count) {
  if (decision != nullptr && decision->skip) return;
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

// One thread: the partial sums added in order, then the scaler's rule.
__global__ void decide_step_kernel(const double* partial_squares, int count, StepRule rule, StepState* state) {
  double squares = 0.0;
  for (int i = 0; i < count; ++i) squares += partial_squares[i];
  decide_step_state(rule, squares, *state);
}

const StepState* optional_state(const Tensor& decision) {
  return decision.defined() ? device_data<const StepState>(decision) : nullptr;
}

}  // namespace

void CudaBackend::adamw_update(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
                               const AdamWStep& step, const Tensor& decision) {
  const AdamWCoefficients c =
      adamw_coefficients(step.lr, step.beta1, step.beta2, step.eps, step.weight_decay, step.step, step.grad_scale);
  launch_elements(adamw_kernel, params.numel(), c, optional_state(decision), device_data<float>(params),
                  device_data<float>(grads), device_data<float>(m), device_data<float>(v));
}

void CudaBackend::ema_update(const Tensor& ema, const Tensor& params, float decay, const Tensor& decision) {
  launch_elements(ema_kernel, params.numel(), optional_state(decision), device_data<float>(ema),
                  device_data<float>(params), decay);
}

void CudaBackend::sum_of_squares(const Tensor& x, const Tensor& result) {
  const Tensor scratch = scratch_doubles(kSumBlocks);
  double* partial = device_data<double>(scratch);
  launch_kernel(partial_squares_kernel, kSumBlocks, kThreads, device_data<float>(x), x.numel(), partial);
  launch_kernel(sum_partials_kernel, 1, kThreads, partial, kSumBlocks, device_data<double>(result));
}

void CudaBackend::decide_step(const Tensor& partial_squares, const StepRule& rule, const Tensor& state) {
  launch_kernel(decide_step_kernel, 1, 1, device_data<const double>(partial_squares),
                static_cast<int>(partial_squares.numel() / 2), rule, device_data<StepState>(state));
}

}  // namespace diffuse::cuda
