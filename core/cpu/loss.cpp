// CPU weighted mean-squared-error loss: per-sample losses (the trainer logs
// them per timestep bucket) and the gradient of loss_scale * their sum.
#include <vector>

#include "core/cpu/cpu_backend.h"

namespace diffuse::cpu {

void CpuBackend::mse_loss_forward(const Tensor& pred, const Tensor& target, const Tensor& weights,
                                  const Tensor& per_sample) {
  const int64_t n = pred.dim(0), elements = pred.numel() / n;
  const float* p = pred.f32();
  const float* q = target.f32();
  const float* w = weights.f32();
  float* loss = per_sample.f32();
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < n; ++s) {
    // Double accumulation: a 32x32x3 sample sums 3072 squares.
    double total = 0.0;
    for (int64_t i = s * elements; i < (s + 1) * elements; ++i) {
      const double diff = static_cast<double>(p[i]) - q[i];
      total += diff * diff;
    }
    loss[s] = static_cast<float>(w[s] * total / static_cast<double>(elements));
  }
}

void CpuBackend::mse_loss_backward(const Tensor& pred, const Tensor& target, const Tensor& weights, float loss_scale,
                                   const Tensor& dpred) {
  const int64_t n = pred.dim(0), elements = pred.numel() / n;
  const float* p = pred.f32();
  const float* q = target.f32();
  const float* w = weights.f32();
  float* dp = dpred.f32();
  std::vector<float> coefficient(static_cast<size_t>(n));
  for (int64_t s = 0; s < n; ++s)
    coefficient[s] = static_cast<float>(2.0 * loss_scale * w[s] / static_cast<double>(elements));
    // collapse(2): batch 1 still spreads over the threads.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t s = 0; s < n; ++s) {
    for (int64_t i = 0; i < elements; ++i) {
      const int64_t k = s * elements + i;
      dp[k] = coefficient[s] * (p[k] - q[k]);
    }
  }
}

}  // namespace diffuse::cpu
