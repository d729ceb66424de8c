// bf16/fp16 conversions of core/half.h: exhaustive round trips and rounding
// checked against an independent round-to-nearest-even written with
// frexp/nearbyint in double.
#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/half.h"
#include "core/philox.h"

namespace diffuse {
namespace {

// Round x to a binary format with `mantissa_bits` stored bits, smallest normal
// exponent `min_exponent` (below it: subnormals, fixed spacing), overflowing
// to inf beyond `max_finite`. nearbyint rounds ties to even in the default mode.
double reference_round(double x, int mantissa_bits, int min_exponent, double max_finite) {
  if (x == 0.0 || std::isinf(x)) return x;
  int exponent;
  std::frexp(x, &exponent);  // |x| in [2^(exponent-1), 2^exponent)
  const int leading = std::max(exponent - 1, min_exponent);
  const double spacing = std::ldexp(1.0, leading - mantissa_bits);
  const double rounded = std::nearbyint(x / spacing) * spacing;
  return std::fabs(rounded) > max_finite ? std::copysign(std::numeric_limits<double>::infinity(), x) : rounded;
}

double reference_f16(float x) { return reference_round(x, 10, -14, 65504.0); }
double reference_bf16(float x) { return reference_round(x, 7, -126, std::ldexp(255.0, 120)); }

float from_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// Same value and same sign (so -0 is not 0).
void expect_same(float actual, double expected, float input, const char* format, int& failures) {
  const bool same = static_cast<double>(actual) == expected && std::signbit(actual) == std::signbit(expected);
  if (!same && failures++ < 5)
    ADD_FAILURE() << format << " of " << input << " (bits 0x" << std::hex << float_bits(input) << std::dec << ") is "
                  << actual << ", expected " << expected;
}

TEST(Half, F16RoundTripsEveryEncoding) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const f16 value{static_cast<uint16_t>(bits)};
    const float widened = f16_to_float(value);
    const bool nan = (bits & 0x7c00u) == 0x7c00u && (bits & 0x3ffu) != 0;
    ASSERT_EQ(std::isnan(widened), nan) << std::hex << bits;
    if (nan) {
      EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(widened)))) << std::hex << bits;
    } else {
      ASSERT_EQ(float_to_f16(widened).bits, bits) << std::hex << bits;
    }
  }
}

TEST(Half, Bf16RoundTripsEveryEncoding) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const float widened = bf16_to_float(bf16{static_cast<uint16_t>(bits)});
    if (std::isnan(widened)) {
      EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(widened)))) << std::hex << bits;
    } else {
      ASSERT_EQ(float_to_bf16(widened).bits, bits) << std::hex << bits;
    }
  }
}

TEST(Half, F16DecodesToExactValues) {
  for (uint32_t bits = 0; bits < 0x7c00u; ++bits) {
    const double magnitude = (bits >> 10) == 0 ? std::ldexp(double(bits & 0x3ffu), -24)
                                               : std::ldexp(1024.0 + (bits & 0x3ffu), int(bits >> 10) - 25);
    ASSERT_EQ(f16_to_float(f16{static_cast<uint16_t>(bits)}), magnitude) << std::hex << bits;
    ASSERT_EQ(f16_to_float(f16{static_cast<uint16_t>(bits | 0x8000u)}), -magnitude) << std::hex << bits;
  }
  EXPECT_EQ(f16_to_float(f16{0x7c00}), std::numeric_limits<float>::infinity());
}

TEST(Half, RoundingMatchesReference) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  const RandomStream stream{99, 0, 0, 0};
  int f16_failures = 0, bf16_failures = 0;
  for (uint32_t i = 0; i < 400000; ++i) {
    const Philox4 block = random_block(stream, i);
    // Half the draws are arbitrary floats (every exponent, subnormals, NaN); the other half have
    // exponents around the f16 range [2^-26, 2^17) where its subnormals, rounding and overflow live.
    uint32_t bits = block.v[0];
    if (i & 1) bits = (bits & 0x807fffffu) | ((101u + block.v[1] % 43u) << 23);
    // Mantissas with few set bits land exactly on and next to halfway points.
    if (i % 4 == 3) bits &= ~((block.v[2] & 0x7fffu) | 0x00001000u) | (block.v[3] & 0x3u);
    const float x = from_bits(bits);
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(x))));
      EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(x))));
      continue;
    }
    expect_same(f16_to_float(float_to_f16(x)), reference_f16(x), x, "f16", f16_failures);
    expect_same(bf16_to_float(float_to_bf16(x)), reference_bf16(x), x, "bf16", bf16_failures);
  }
}

TEST(Half, RoundingOfEveryHalfwayPointNearOne) {
  // Every value between 1 and 2 with 13 more bits than f16 keeps: all ties and their neighbours.
  int failures = 0;
  for (uint32_t low = 0; low < (1u << 14); ++low) {
    const float x = from_bits(0x3f800000u | (low << 9));
    expect_same(f16_to_float(float_to_f16(x)), reference_f16(x), x, "f16", failures);
    expect_same(bf16_to_float(float_to_bf16(x)), reference_bf16(x), x, "bf16", failures);
  }
}

}  // namespace
}  // namespace diffuse
