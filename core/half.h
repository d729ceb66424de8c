// bf16 and fp16 storage types with round-to-nearest-even conversions, shared
// by host and device code (the CUDA backend may use its intrinsics instead,
// which round identically).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/hd.h"

namespace diffuse {

struct bf16 {
  uint16_t bits;
};
struct f16 {
  uint16_t bits;
};

DIFFUSE_HD uint32_t float_bits(float value) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(value);
#else
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
#endif
}

DIFFUSE_HD float bits_float(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
#endif
}

DIFFUSE_HD bf16 float_to_bf16(float value) {
  const uint32_t bits = float_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return bf16{static_cast<uint16_t>((bits >> 16) | 0x40u)};  // quiet NaN
  const uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return bf16{static_cast<uint16_t>((bits + rounding) >> 16)};
}

DIFFUSE_HD float bf16_to_float(bf16 value) { return bits_float(static_cast<uint32_t>(value.bits) << 16); }

DIFFUSE_HD f16 float_to_f16(float value) {
  const uint32_t bits = float_bits(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return f16{static_cast<uint16_t>(sign | 0x7e00u)};   // NaN
  if (magnitude >= 0x477ff000u) return f16{static_cast<uint16_t>(sign | 0x7c00u)};  // overflow -> inf
  if (magnitude < 0x38800000u) {
    // Subnormal or zero in fp16: shift the implicit-one mantissa, round to nearest even.
    if (magnitude < 0x33000000u) return f16{static_cast<uint16_t>(sign)};
    const uint32_t exponent = magnitude >> 23;
    const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exponent;  // value = mantissa * 2^(exponent - 150) = result * 2^-24
    uint32_t result = mantissa >> shift;
    const uint32_t remainder = mantissa & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (remainder > halfway || (remainder == halfway && (result & 1u))) ++result;
    return f16{static_cast<uint16_t>(sign | result)};
  }
  // Normal: rebias exponent from 127 to 15 and round the 13 dropped bits.
  uint32_t result = magnitude - 0x38000000u;
  const uint32_t rounding = 0xfffu + ((result >> 13) & 1u);
  result = (result + rounding) >> 13;
  return f16{static_cast<uint16_t>(sign | result)};
}

DIFFUSE_HD float f16_to_float(f16 value) {
  const uint32_t sign = static_cast<uint32_t>(value.bits & 0x8000u) << 16;
  const uint32_t exponent = (value.bits >> 10) & 0x1fu;
  const uint32_t mantissa = value.bits & 0x3ffu;
  if (exponent == 0x1fu) return bits_float(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  if (mantissa == 0) return bits_float(sign);
  // Subnormal fp16 is a normal fp32: value = mantissa * 2^-24.
  const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
  return sign ? -magnitude : magnitude;
}

// The conversions as one overload set over the storage types, for code
// templated on them (casts, the GPU's operand copies and epilogues).
DIFFUSE_HD float to_float(float value) { return value; }
DIFFUSE_HD float to_float(bf16 value) { return bf16_to_float(value); }
DIFFUSE_HD float to_float(f16 value) { return f16_to_float(value); }

template <typename T>
DIFFUSE_HD T from_float(float value) {
  if constexpr (std::is_same_v<T, bf16>) {
    return float_to_bf16(value);
  } else if constexpr (std::is_same_v<T, f16>) {
    return float_to_f16(value);
  } else {
    static_assert(std::is_same_v<T, float>, "from_float: T must be float, bf16 or f16");
    return value;
  }
}

}  // namespace diffuse
