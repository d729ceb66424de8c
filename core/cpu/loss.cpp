// CPU per-sample losses, weighted mean-squared error and pseudo-Huber (the trainer logs them per timestep
// bucket), and the gradient of loss_scale * their sum.
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "core/math/pseudo_huber.h"
#include "core/step_state.h"

namespace diffuse::cpu {

namespace {

// Sum of (p - q)^2 over one sample, in double: a 32x32x3 sample sums 3072 squares.
double squared_distance(const float* p, const float* q, int64_t elements) {
  double total = 0.0;
  for (int64_t i = 0; i < elements; ++i) {
    const double diff = static_cast<double>(p[i]) - q[i];
    total += diff * diff;
  }
  return total;
}

// dpred = coefficient[s] * (pred - target) over every sample s.
void scale_difference_per_sample(const float* p, const float* q, const std::vector<float>& coefficient,
                                 int64_t elements, float* dp) {
  const int64_t n = static_cast<int64_t>(coefficient.size());
  // collapse(2): batch 1 still spreads over the threads.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t s = 0; s < n; ++s) {
    for (int64_t i = 0; i < elements; ++i) {
      const int64_t k = s * elements + i;
      dp[k] = coefficient[s] * (p[k] - q[k]);
    }
  }
}

// The loss scale as one float, the dynamic scale read from the step state where there is one.
float loss_scale_value(const LossScale& loss_scale) {
  if (!loss_scale.step_state.defined()) return loss_scale_times(loss_scale.factor, nullptr);
  const StepState state = read_step_state(loss_scale.step_state);
  return loss_scale_times(loss_scale.factor, &state);
}

}  // namespace

void CpuBackend::mse_loss_forward(const Tensor& pred, const Tensor& target, const Tensor& weights,
                                  const Tensor& per_sample) {
  const int64_t n = pred.dim(0), elements = pred.numel() / n;
  const float* p = pred.f32();
  const float* q = target.f32();
  const float* w = weights.f32();
  float* loss = per_sample.f32();
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < n; ++s)
    loss[s] = static_cast<float>(w[s] * squared_distance(p + s * elements, q + s * elements, elements) /
                                 static_cast<double>(elements));
}

void CpuBackend::mse_loss_backward(const Tensor& pred, const Tensor& target, const Tensor& weights,
                                   const LossScale& scale, const Tensor& dpred) {
  const float loss_scale = loss_scale_value(scale);
  const int64_t n = pred.dim(0), elements = pred.numel() / n;
  const float* p = pred.f32();
  const float* q = target.f32();
  const float* w = weights.f32();
  float* dp = dpred.f32();
  std::vector<float> coefficient(static_cast<size_t>(n));
  for (int64_t s = 0; s < n; ++s)
    coefficient[s] = static_cast<float>(2.0 * loss_scale * w[s] / static_cast<double>(elements));
  scale_difference_per_sample(p, q, coefficient, elements, dp);
}

void CpuBackend::pseudo_huber_loss_forward(const Tensor& pred, const Tensor& target, const Tensor& weights, float c,
                                           const Tensor& per_sample) {
  const int64_t n = pred.dim(0), elements = pred.numel() / n;
  const float* w = weights.f32();
  float* loss = per_sample.f32();
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < n; ++s)
    loss[s] =
        pseudo_huber_value(squared_distance(pred.f32() + s * elements, target.f32() + s * elements, elements), c, w[s]);
}

void CpuBackend::pseudo_huber_loss_backward(const Tensor& pred, const Tensor& target, const Tensor& weights, float c,
                                            const LossScale& scale, const Tensor& dpred) {
  const float loss_scale = loss_scale_value(scale);
  const int64_t n = pred.dim(0), elements = pred.numel() / n;
  const float* p = pred.f32();
  const float* q = target.f32();
  const float* w = weights.f32();
  float* dp = dpred.f32();
  std::vector<float> coefficient(static_cast<size_t>(n));
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < n; ++s)
    coefficient[s] =
        pseudo_huber_coefficient(squared_distance(p + s * elements, q + s * elements, elements), c, w[s], loss_scale);
  scale_difference_per_sample(p, q, coefficient, elements, dp);
}

}  // namespace diffuse::cpu
