// CPU ReLU, forward and backward (the Inception network and the evaluation
// classifier); one elementwise OpenMP loop each.
#include "core/cpu/cpu_backend.h"

namespace diffuse::cpu {

namespace {

constexpr int64_t kParallelElements = int64_t{1} << 15;  // below this, threads cost more than they save

}  // namespace

void CpuBackend::relu_forward(const Tensor& x, const Tensor& y) {
  const int64_t count = x.numel();
  const float* in = x.f32();
  float* out = y.f32();
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
  for (int64_t i = 0; i < count; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void CpuBackend::relu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  const int64_t count = x.numel();
  const float* in = x.f32();
  const float* grad_out = dy.f32();
  float* grad_in = dx.f32();
#pragma omp parallel for schedule(static) if (count >= kParallelElements)
  for (int64_t i = 0; i < count; ++i) grad_in[i] = in[i] > 0.0f ? grad_out[i] : 0.0f;
}

}  // namespace diffuse::cpu
