// e^x in float from arithmetic and bit moves only, so that compilers
// vectorize the loops that use it (libm's expf is an opaque call that keeps a
// loop scalar). Range reduction x = n ln2 + r, |r| <= ln2/2, then Cephes'
// degree-6 polynomial for e^r and 2^n built in the exponent bits. Within a
// few ulp of expf over its normal range; +inf above 88.72, 0 below -87.34
// (where expf would still return subnormals), NaN for NaN.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/hd.h"

namespace diffuse {

DIFFUSE_HD float exp_vectorizable(float x) {
  constexpr float kLowest = -87.3365448f, kHighest = 88.7228391f;  // ln of the smallest normal and largest float
  // NaN computes as 0 (converting NaN to an integer is undefined) and is returned as itself below.
  const float clamped = x < kLowest ? kLowest : (x > kHighest ? kHighest : (x == x ? x : 0.0f));
  // Round x / ln2 to the nearest integer n by adding 1.5 * 2^23: the sum's
  // last mantissa bit is then the units place.
  constexpr float kRound = 12582912.0f;
  const float n = (clamped * 1.44269504088896341f + kRound) - kRound;
  // r = x - n ln2, with ln2 split in two so that n * hi is exact.
  float r = clamped - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e_r = p * r * r + r + 1.0f;
  // 2^n for n in [-126, 128]: as 2^(n-1) * 2 when n > 0, so the exponent field stays below 255.
  const int32_t whole = static_cast<int32_t>(n), halved = whole > 0 ? 1 : 0;
  const int32_t exponent_bits = (whole - halved + 127) << 23;
  float two_to_n;
  std::memcpy(&two_to_n, &exponent_bits, sizeof(two_to_n));
  const float result = e_r * two_to_n * (halved ? 2.0f : 1.0f);
  // Selects rather than early returns: one value leaves, so callers' arithmetic on it is not duplicated per case.
  const float saturated = x > kHighest ? HUGE_VALF : (x < kLowest ? 0.0f : result);
  return x == x ? saturated : x;
}

}  // namespace diffuse
