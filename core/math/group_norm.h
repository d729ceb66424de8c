// Group normalisation element math shared by the CPU and CUDA backends.
//
// For one sample and group of `count` elements with statistics mean and
// rstd = 1 / sqrt(var + eps), xhat = (x - mean) * rstd and
//   y = xhat * gamma[c] + beta[c].
// Backward, with g = dy * gamma[c] and sums over the group:
//   dx = rstd * (g - sum(g) / count) - rstd * xhat * sum(g * xhat) / count
//      = rstd * (g - mean_g) - slope * (x - mean).
// Callers reduce in double. Differences are taken before any multiplication by
// rstd, so a large mean or a tiny group (rstd ~ 1/sqrt(eps)) does not cancel
// the signal away.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace diffuse {

// 1 / sqrt(var + eps); a variance that rounding drove below zero counts as 0.
DIFFUSE_HD float group_norm_rstd(double variance, float eps) {
  return static_cast<float>(1.0 / sqrt((variance > 0.0 ? variance : 0.0) + static_cast<double>(eps)));
}

// The moments of one (sample, group), merged channel by channel (Chan et al.)
// from each channel's sums about a shift, its first value in the sample. The
// shift keeps the sums small, so the variance stays exact when the mean is
// large against the spread, in a single read of x.
struct GroupMoments {
  double count = 0.0;  // elements merged so far
  double mean = 0.0;
  double m2 = 0.0;  // sum of squared deviations from mean

  // `pixels` (> 0) values of one channel: sum = sum(x - shift), squares = sum((x - shift)^2).
  DIFFUSE_HD void add_channel(double shift, double pixels, double sum, double squares) {
    const double channel_mean = shift + sum / pixels, channel_m2 = squares - sum * sum / pixels;
    const double total = count + pixels, delta = channel_mean - mean;
    mean += delta * pixels / total;
    m2 += channel_m2 + delta * delta * count * pixels / total;
    count = total;
  }
  // Empty groups (C or H*W is 0) have mean 0 and variance 0.
  DIFFUSE_HD double variance() const { return count > 0.0 ? m2 / count : 0.0; }
};

// y for one element; scale = rstd * gamma[c].
DIFFUSE_HD float group_norm_output(float x, float mean, float scale, float beta) { return (x - mean) * scale + beta; }

// Per-group backward constants from double sums over the group:
// sum_g = sum(dy * gamma), sum_g_centred = sum(dy * gamma * (x - mean)).
struct GroupNormGradCoefficients {
  float mean_g;  // sum_g / count
  float slope;   // rstd^3 * sum_g_centred / count
};

DIFFUSE_HD GroupNormGradCoefficients group_norm_grad_coefficients(double sum_g, double sum_g_centred, float rstd,
                                                                  int64_t count) {
  const double r = rstd, inverse_count = count > 0 ? 1.0 / static_cast<double>(count) : 0.0;
  return GroupNormGradCoefficients{static_cast<float>(sum_g * inverse_count),
                                   static_cast<float>(r * r * r * sum_g_centred * inverse_count)};
}

// dx for one element.
DIFFUSE_HD float group_norm_input_grad(float dy, float x, float gamma, float mean, float rstd,
                                       const GroupNormGradCoefficients& k) {
  return rstd * (dy * gamma - k.mean_g) - k.slope * (x - mean);
}

}  // namespace diffuse
