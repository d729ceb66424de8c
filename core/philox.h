// Philox4x32-10 counter-based random numbers (Salmon et al., SC'11), shared
// by host and device code so both backends draw identical streams.
//
// Every random draw in diffuse is addressed, not sequential: a stream is
// named by (seed, purpose, step, sample) and element i of it is lane i % 4
// of block i / 4. Keying by the global sample index is what makes training
// independent of the number of ranks.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace diffuse {

struct Philox4 {
  uint32_t v[4];
};
struct PhiloxKey {
  uint32_t k[2];
};

DIFFUSE_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  hi = static_cast<uint32_t>(product >> 32);
  lo = static_cast<uint32_t>(product);
}

// The round multipliers and key increments (Weyl sequence) of Philox4x32.
constexpr uint32_t kPhiloxMultiplier0 = 0xD2511F53u, kPhiloxMultiplier1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxWeyl0 = 0x9E3779B9u, kPhiloxWeyl1 = 0xBB67AE85u;
constexpr int kPhiloxRounds = 10;

DIFFUSE_HD Philox4 philox4x32_10(Philox4 counter, PhiloxKey key) {
  for (int round = 0; round < kPhiloxRounds; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(kPhiloxMultiplier0, counter.v[0], hi0, lo0);
    philox_mulhilo(kPhiloxMultiplier1, counter.v[2], hi1, lo1);
    counter = Philox4{{hi1 ^ counter.v[1] ^ key.k[0], lo1, hi0 ^ counter.v[3] ^ key.k[1], lo0}};
    key.k[0] += kPhiloxWeyl0;
    key.k[1] += kPhiloxWeyl1;
  }
  return counter;
}

// Names one random stream. `purpose` separates independent uses (noise,
// timesteps, dropout of layer L, ...); see RandomPurpose.
struct RandomStream {
  uint64_t seed;
  uint32_t purpose;
  uint32_t step;
  uint32_t sample;
};

// Purposes of the streams diffuse draws; dropout layers use kDropoutBase + layer id.
enum RandomPurpose : uint32_t {
  kPurposeInit = 1,
  kPurposeNoise = 2,
  kPurposeTimestep = 3,
  kPurposeClassDrop = 4,
  kPurposeSampler = 5,
  kPurposeDataOrder = 6,
  kPurposeFlip = 7,
  kPurposeChurn = 8,
  kPurposeConsistencyLevel = 9,
  kPurposeDropoutBase = 1u << 16,
};

DIFFUSE_HD Philox4 random_block(const RandomStream& stream, uint32_t block) {
  return philox4x32_10(Philox4{{block, stream.sample, stream.step, stream.purpose}},
                       PhiloxKey{{static_cast<uint32_t>(stream.seed), static_cast<uint32_t>(stream.seed >> 32)}});
}

// Uniform in the open interval (0, 1): the top 23 bits, centred in their bin,
// (2k + 1) * 2^-24. 23 bits keep every value exact in fp32 (24 would round the
// top bin up to exactly 1).
DIFFUSE_HD float uniform_from_bits(uint32_t bits) {
  return static_cast<float>(bits >> 9) * (1.0f / 8388608.0f) + (0.5f / 8388608.0f);
}

// Box-Muller on two uniforms. Computed in double and rounded once so host and
// device libm differences (a few ulps in float) do not reach the result.
DIFFUSE_HD void normal_pair_from_bits(uint32_t a, uint32_t b, float& first, float& second) {
  const double u1 = static_cast<double>(uniform_from_bits(a));
  const double u2 = static_cast<double>(uniform_from_bits(b));
  const double radius = sqrt(-2.0 * log(u1));
  const double angle = 6.283185307179586476925 * u2;
  first = static_cast<float>(radius * cos(angle));
  second = static_cast<float>(radius * sin(angle));
}

// Element `index` of a stream as a uniform in (0, 1).
DIFFUSE_HD float random_uniform(const RandomStream& stream, uint64_t index) {
  const Philox4 block = random_block(stream, static_cast<uint32_t>(index >> 2));
  return uniform_from_bits(block.v[index & 3]);
}

// Standard normals from lanes `pair` and `pair + 1` of a block (pair 0 or 2):
// each half of a block is one Box-Muller pair.
DIFFUSE_HD void normal_pair_of_block(const Philox4& block, int pair, float& first, float& second) {
  normal_pair_from_bits(block.v[pair], block.v[pair + 1], first, second);
}

// Element `index` of a stream as a standard normal.
DIFFUSE_HD float random_normal(const RandomStream& stream, uint64_t index) {
  const Philox4 block = random_block(stream, static_cast<uint32_t>(index >> 2));
  float first, second;
  normal_pair_of_block(block, static_cast<int>(index & 2), first, second);
  return (index & 1) ? second : first;
}

// Elements [4b, 4b + lanes) of a stream from its block b, as random_normal
// gives them one at a time (lanes <= 4; a row's last block may be partial).
DIFFUSE_HD void normals_of_block(const Philox4& block, int64_t lanes, float (&values)[4]) {
  normal_pair_of_block(block, 0, values[0], values[1]);
  if (lanes > 2) normal_pair_of_block(block, 2, values[2], values[3]);
}

}  // namespace diffuse
