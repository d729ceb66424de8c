// CPU ReLU, forward and backward (the Inception network and the evaluation
// classifier); one elementwise OpenMP loop each over core/math/activation.h.
#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"
#include "core/math/activation.h"

namespace diffuse::cpu {

void CpuBackend::relu_forward(const Tensor& x, const Tensor& y) {
  const int64_t count = x.numel();
  const float* in = x.f32();
  float* out = y.f32();
#pragma omp parallel for schedule(static) if (worth_threads(count))
  for (int64_t i = 0; i < count; ++i) out[i] = relu(in[i]);
}

void CpuBackend::relu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  const int64_t count = x.numel();
  const float* in = x.f32();
  const float* grad_out = dy.f32();
  float* grad_in = dx.f32();
#pragma omp parallel for schedule(static) if (worth_threads(count))
  for (int64_t i = 0; i < count; ++i) grad_in[i] = relu_input_grad(in[i], grad_out[i]);
}

}  // namespace diffuse::cpu
