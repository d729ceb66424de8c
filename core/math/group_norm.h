// Group normalisation element math shared by the CPU and CUDA backends.
//
// For one sample and group of `count` elements with statistics mean and
// rstd = 1 / sqrt(var + eps), xhat = (x - mean) * rstd and
//   y = xhat * gamma[c] + beta[c].
// Backward, with g = dy * gamma[c] and sums over the group:
//   dx = rstd * (g - sum(g) / count - xhat * sum(g * xhat) / count),
// which the helpers below evaluate as dy * scale - slope * (x - mean) - offset.
// Callers reduce in double; every formula keeps x - mean explicit so a large
// mean does not cancel away the signal.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace diffuse {

// 1 / sqrt(var + eps); a variance that rounding drove below zero counts as 0.
DIFFUSE_HD float group_norm_rstd(double variance, float eps) {
  return static_cast<float>(1.0 / sqrt((variance > 0.0 ? variance : 0.0) + static_cast<double>(eps)));
}

// y for one element; scale = rstd * gamma[c].
DIFFUSE_HD float group_norm_output(float x, float mean, float scale, float beta) { return (x - mean) * scale + beta; }

// Per-group backward constants from double sums over the group:
// sum_g = sum(dy * gamma), sum_g_centered = sum(dy * gamma * (x - mean)).
struct GroupNormGradCoefficients {
  float slope;   // rstd^3 * sum_g_centered / count
  float offset;  // rstd * sum_g / count
};

DIFFUSE_HD GroupNormGradCoefficients group_norm_grad_coefficients(double sum_g, double sum_g_centered, float rstd,
                                                                  int64_t count) {
  const double r = rstd, inverse_count = count > 0 ? 1.0 / static_cast<double>(count) : 0.0;
  return GroupNormGradCoefficients{static_cast<float>(r * r * r * sum_g_centered * inverse_count),
                                   static_cast<float>(r * sum_g * inverse_count)};
}

// dx for one element; scale = rstd * gamma[c].
DIFFUSE_HD float group_norm_input_grad(float dy, float x, float mean, float scale, const GroupNormGradCoefficients& k) {
  return dy * scale - k.slope * (x - mean) - k.offset;
}

}  // namespace diffuse
