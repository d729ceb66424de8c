// CPU optimiser and flat-buffer math: AdamW and EMA (element formulas shared
// with the CUDA backend in core/math/), and the sum of squares that feeds
// gradient clipping and the loss scaler's overflow check.
#include "core/cpu/cpu_backend.h"
#include "core/math/adamw.h"
#include "core/math/elementwise.h"

namespace diffuse::cpu {

void CpuBackend::adamw_update(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
                              const AdamWStep& step) {
  const AdamWCoefficients c =
      adamw_coefficients(step.lr, step.beta1, step.beta2, step.eps, step.weight_decay, step.step, step.grad_scale);
  const int64_t count = params.numel();
  float* p = params.f32();
  const float* g = grads.f32();
  float* first = m.f32();
  float* second = v.f32();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) adamw_element(c, g[i], p[i], first[i], second[i]);
}

void CpuBackend::ema_update(const Tensor& ema, const Tensor& params, float decay) {
  const int64_t count = params.numel();
  float* average = ema.f32();
  const float* p = params.f32();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) average[i] = ema_average(average[i], p[i], decay);
}

double CpuBackend::sum_of_squares(const Tensor& x) {
  const int64_t count = x.numel();
  const float* data = x.f32();
  // Squares in double cannot overflow (FLT_MAX^2 < DBL_MAX), so only a real
  // inf/NaN in the input makes the result non-finite.
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int64_t i = 0; i < count; ++i) {
    const double value = data[i];
    total += value * value;
  }
  return total;
}

}  // namespace diffuse::cpu
