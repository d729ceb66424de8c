// ops::cast between f32, bf16 and f16: exact known encodings (rounding to
// nearest even, overflow, subnormals, NaN) and round trips on random tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/half.h"
#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

// Casts f32 values to a 16-bit dtype through the op and returns the raw encodings.
std::vector<uint16_t> encode(const std::vector<float>& values, DType dtype) {
  const Tensor source = from_vector(values, {static_cast<int64_t>(values.size())});
  const Tensor destination = Tensor::empty(source.shape(), dtype);
  ops::cast(source, destination);
  std::vector<uint16_t> bits(values.size());
  std::memcpy(bits.data(), destination.raw(), bits.size() * sizeof(uint16_t));
  return bits;
}

// Casts raw 16-bit encodings to another dtype through the op.
Tensor from_bits(const std::vector<uint16_t>& bits, DType dtype) {
  Tensor tensor = Tensor::empty({static_cast<int64_t>(bits.size())}, dtype);
  std::memcpy(tensor.raw(), bits.data(), bits.size() * sizeof(uint16_t));
  return tensor;
}

std::vector<float> decode(const std::vector<uint16_t>& bits, DType dtype) {
  const Tensor source = from_bits(bits, dtype);
  const Tensor destination = Tensor::empty(source.shape());
  ops::cast(source, destination);
  return to_vector(destination);
}

const float kInf = std::numeric_limits<float>::infinity();
const float kNan = std::numeric_limits<float>::quiet_NaN();

TEST(Cast, KnownF16Encodings) {
  const std::vector<float> values = {
      1.0f,
      -2.5f,
      0.0f,
      -0.0f,
      65504.0f,                          // largest finite
      65519.0f,                          // just below the halfway point to 65536: stays finite
      65520.0f,                          // halfway: rounds to even, i.e. to inf
      std::ldexp(1.0f, -24),             // smallest subnormal
      std::ldexp(1.0f, -25),             // halfway between 0 and 2^-24: ties to even 0
      3 * std::ldexp(1.0f, -25),         // halfway between 1 and 2 subnormal units: even 2
      1.0f + std::ldexp(1.0f, -11),      // halfway between 1 and 1 + 2^-10: even 1
      1.0f + 3 * std::ldexp(1.0f, -11),  // halfway between 1 + 2^-10 and 1 + 2^-9: even 1 + 2^-9
      std::ldexp(1.0f, -14),             // smallest normal
      kInf,
      -kInf};
  const std::vector<uint16_t> expected = {0x3c00, 0xc100, 0x0000, 0x8000, 0x7bff, 0x7bff, 0x7c00, 0x0001,
                                          0x0000, 0x0002, 0x3c00, 0x3c02, 0x0400, 0x7c00, 0xfc00};
  const std::vector<uint16_t> bits = encode(values, DType::F16);
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(bits[i], expected[i]) << "f16 of " << values[i] << " (index " << i << ")";
  const uint16_t nan_bits = encode({kNan}, DType::F16)[0];
  EXPECT_EQ(nan_bits & 0x7c00, 0x7c00) << "NaN keeps an all-ones exponent";
  EXPECT_NE(nan_bits & 0x03ff, 0) << "NaN keeps a non-zero mantissa";
  EXPECT_TRUE(std::isnan(decode({nan_bits}, DType::F16)[0]));
}

TEST(Cast, KnownBf16Encodings) {
  const std::vector<float> values = {1.0f,
                                     -2.5f,
                                     0.0f,
                                     -0.0f,
                                     1.0f + std::ldexp(1.0f, -8),        // halfway: ties to even 1
                                     1.0f + 3 * std::ldexp(1.0f, -9),    // 3/4 of an ulp: rounds up
                                     1.0f + 3 * std::ldexp(1.0f, -8),    // halfway: ties to even 1 + 2^-6
                                     65504.0f,                           // 0x477fe000 -> 0x4780 (65536)
                                     std::numeric_limits<float>::max(),  // rounds up past the largest bf16
                                     kInf,
                                     -kInf};
  const std::vector<uint16_t> expected = {0x3f80, 0xc020, 0x0000, 0x8000, 0x3f80, 0x3f81,
                                          0x3f82, 0x4780, 0x7f80, 0x7f80, 0xff80};
  const std::vector<uint16_t> bits = encode(values, DType::BF16);
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_EQ(bits[i], expected[i]) << "bf16 of " << values[i] << " (index " << i << ")";
  const uint16_t nan_bits = encode({kNan}, DType::BF16)[0];
  EXPECT_EQ(nan_bits & 0x7f80, 0x7f80);
  EXPECT_NE(nan_bits & 0x007f, 0);
  EXPECT_TRUE(std::isnan(decode({nan_bits}, DType::BF16)[0]));
  // A signalling NaN whose payload lies only in the dropped low bits must not turn into inf.
  uint32_t low_payload_nan = 0x7f800001u;
  float low_nan;
  std::memcpy(&low_nan, &low_payload_nan, sizeof(low_nan));
  EXPECT_TRUE(std::isnan(decode(encode({low_nan}, DType::BF16), DType::BF16)[0]));
  EXPECT_TRUE(std::isnan(decode(encode({low_nan}, DType::F16), DType::F16)[0]));
}

TEST(Cast, DecodesKnownEncodings) {
  EXPECT_EQ(decode({0x3c00, 0xc100, 0x7bff, 0x0001, 0x8000, 0x7c00}, DType::F16),
            (std::vector<float>{1.0f, -2.5f, 65504.0f, std::ldexp(1.0f, -24), -0.0f, kInf}));
  EXPECT_EQ(decode({0x3f80, 0xc020, 0x3f81, 0xff80}, DType::BF16),
            (std::vector<float>{1.0f, -2.5f, 1.0f + std::ldexp(1.0f, -7), -kInf}));
}

TEST(Cast, RoundTripsOnRandomTensors) {
  for (const Shape& shape : std::vector<Shape>{{1}, {3, 5, 7}, {2, 33, 17, 3}}) {
    const Tensor x = testing::random_tensor(shape, 3, -70000.0f, 70000.0f);  // beyond the f16 range
    for (DType half : {DType::BF16, DType::F16}) {
      const Tensor narrow = Tensor::empty(shape, half), back = Tensor::empty(shape);
      ops::cast(x, narrow);
      ops::cast(narrow, back);
      // Compared with the scalar conversions of core/half.h: bit-exact, inf included.
      std::vector<float> expected = to_vector(x);
      for (float& value : expected)
        value = half == DType::BF16 ? bf16_to_float(float_to_bf16(value)) : f16_to_float(float_to_f16(value));
      EXPECT_EQ(to_vector(back), expected) << dtype_name(half) << " " << shape_string(shape);
      // Every half value is exact in f32, so half -> f32 -> half is the identity.
      const Tensor again = Tensor::empty(shape, half);
      ops::cast(back, again);
      EXPECT_EQ(std::memcmp(again.raw(), narrow.raw(), narrow.nbytes()), 0) << dtype_name(half);
      // Same dtype: a plain copy.
      const Tensor copied = Tensor::empty(shape, half);
      ops::cast(narrow, copied);
      EXPECT_EQ(std::memcmp(copied.raw(), narrow.raw(), narrow.nbytes()), 0) << dtype_name(half);
    }
    const Tensor copy = Tensor::empty(shape);
    ops::cast(x, copy);
    EXPECT_EQ(to_vector(copy), to_vector(x));
  }
}

TEST(Cast, Bf16ToF16RoundsOnce) {
  // Every bf16 encoding to f16 directly, against the f32 route (exact bf16 -> f32, one rounding to f16).
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  const Tensor source = from_bits(all, DType::BF16);
  const Tensor destination = Tensor::empty(source.shape(), DType::F16);
  ops::cast(source, destination);
  const uint16_t* out = static_cast<const uint16_t*>(destination.raw());
  int mismatches = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const float value = bf16_to_float(bf16{all[i]});
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(f16_to_float(f16{out[i]})));
    } else if (out[i] != float_to_f16(value).bits && mismatches++ < 5) {
      ADD_FAILURE() << "bf16 " << std::hex << all[i] << " -> f16 " << out[i];
    }
  }
  // And back: f16 -> bf16 rounds the 10-bit mantissa to 7 bits; 1 + 2^-8 is a tie that goes to even 1.
  const Tensor f16_values = from_bits({0x3c04, 0x3c0c}, DType::F16);  // 1 + 2^-8, 1 + 3 * 2^-8
  const Tensor bf16_values = Tensor::empty({2}, DType::BF16);
  ops::cast(f16_values, bf16_values);
  EXPECT_EQ(static_cast<const uint16_t*>(bf16_values.raw())[0], 0x3f80);
  EXPECT_EQ(static_cast<const uint16_t*>(bf16_values.raw())[1], 0x3f82);
}

}  // namespace
}  // namespace diffuse
