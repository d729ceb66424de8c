// AdamW element update (Loshchilov & Hutter; PyTorch's torch.optim.AdamW
// formula), shared by the CPU and CUDA backends so both step identically:
//   g = grad * grad_scale
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2
//   p = p (1 - lr wd) - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace diffuse {

// Per-step constants, computed once per update rather than per element.
struct AdamWCoefficients {
  float beta1;
  float beta2;
  float eps;
  float grad_scale;
  float decay;           // 1 - lr * weight_decay (decoupled weight decay)
  float step_size;       // lr / (1 - beta1^step)
  float inv_sqrt_bias2;  // 1 / sqrt(1 - beta2^step)
};

// Bias corrections in double: 1 - 0.999^1 = 1e-3 loses digits in float pow.
DIFFUSE_HD AdamWCoefficients adamw_coefficients(float lr, float beta1, float beta2, float eps, float weight_decay,
                                                int64_t step, float grad_scale) {
  const double t = static_cast<double>(step);
  const double bias1 = 1.0 - pow(static_cast<double>(beta1), t);
  const double bias2 = 1.0 - pow(static_cast<double>(beta2), t);
  AdamWCoefficients c;
  c.beta1 = beta1;
  c.beta2 = beta2;
  c.eps = eps;
  c.grad_scale = grad_scale;
  c.decay = static_cast<float>(1.0 - static_cast<double>(lr) * weight_decay);
  c.step_size = static_cast<float>(lr / bias1);
  c.inv_sqrt_bias2 = static_cast<float>(1.0 / sqrt(bias2));
  return c;
}

// One element: updates param, m and v in place.
DIFFUSE_HD void adamw_element(const AdamWCoefficients& c, float grad, float& param, float& m, float& v) {
  const float g = grad * c.grad_scale;
  m = c.beta1 * m + (1.0f - c.beta1) * g;
  v = c.beta2 * v + (1.0f - c.beta2) * g * g;
  const float denom = sqrtf(v) * c.inv_sqrt_bias2 + c.eps;
  param = param * c.decay - c.step_size * m / denom;
}

}  // namespace diffuse
