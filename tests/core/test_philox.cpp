// Philox4x32-10 against the Random123 known-answer vectors, and the stream
// helpers built on it: uniforms strictly inside (0, 1), normals with the
// right moments, independent streams for different (seed, purpose, step, sample),
// and the CPU's batched uniforms equal to the one-at-a-time ones.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "core/cpu/uniform_batch.h"
#include "core/philox.h"

namespace diffuse {
namespace {

void expect_block(const Philox4& actual, const Philox4& expected, const char* what) {
  for (int lane = 0; lane < 4; ++lane)
    EXPECT_EQ(actual.v[lane], expected.v[lane])
        << what << " lane " << lane << std::hex << ": 0x" << actual.v[lane] << " vs 0x" << expected.v[lane];
}

// Random123's kat_vectors file, the "philox4x32 10" lines: counter, key -> output.
TEST(Philox, KnownAnswerVectors) {
  expect_block(philox4x32_10(Philox4{{0, 0, 0, 0}}, PhiloxKey{{0, 0}}),
               Philox4{{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}, "zeros");
  expect_block(philox4x32_10(Philox4{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
                             PhiloxKey{{0xffffffffu, 0xffffffffu}}),
               Philox4{{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}, "ones");
  expect_block(philox4x32_10(Philox4{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
                             PhiloxKey{{0xa4093822u, 0x299f31d0u}}),
               Philox4{{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}, "pi digits");
}

TEST(Philox, StreamElementsAreLanesOfBlocks) {
  const RandomStream stream{0x123456789abcdefull, kPurposeNoise, 17, 3};
  for (uint64_t index = 0; index < 16; ++index) {
    const Philox4 block = random_block(stream, static_cast<uint32_t>(index / 4));
    EXPECT_EQ(random_uniform(stream, index), uniform_from_bits(block.v[index % 4]));
  }
  EXPECT_EQ(random_normal(stream, 5), random_normal(stream, 5)) << "addressed, so repeatable";
}

TEST(Philox, BatchedUniformsEqualRandomUniform) {
  // Runs that start inside a block, span several 64-element batches and end inside one; a counter near 2^32
  // checks the per-lane block numbers wrap like random_block's.
  const RandomStream stream{0xfedcba9876543210ull, kPurposeDropoutBase + 5, 9, 77};
  for (const auto& [first, count] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 64}, {3, 1}, {5, 200}, {62, 7}, {1000, 333}, {(int64_t{1} << 34) - 70, 60}}) {
    std::vector<float> batched(static_cast<size_t>(count));
    cpu::draw_uniforms(stream, first, count, batched.data());
    for (int64_t i = 0; i < count; ++i)
      ASSERT_EQ(batched[static_cast<size_t>(i)], random_uniform(stream, static_cast<uint64_t>(first + i)))
          << "element " << first + i;
  }
}

TEST(Philox, UniformIsStrictlyInsideTheUnitInterval) {
  // The extreme bit patterns map to the ends of the range and must not reach 0 or 1.
  for (uint32_t bits : {0u, 1u, 0xffu, 0x100u, 0x7fffffffu, 0x80000000u, 0xfffffeffu, 0xffffff00u, 0xffffffffu}) {
    const float u = uniform_from_bits(bits);
    EXPECT_GT(u, 0.0f) << std::hex << bits;
    EXPECT_LT(u, 1.0f) << std::hex << bits;
  }
  const RandomStream stream{7, kPurposeTimestep, 0, 0};
  double sum = 0.0;
  const int count = 100000;
  for (int i = 0; i < count; ++i) {
    const float u = random_uniform(stream, i);
    ASSERT_GT(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
  }
  // Standard error of the mean is 0.289 / sqrt(1e5) = 9e-4; allow 5 of them.
  EXPECT_NEAR(sum / count, 0.5, 4.6e-3);
}

TEST(Philox, NormalMomentsAndSymmetry) {
  const RandomStream stream{42, kPurposeNoise, 3, 9};
  const int count = 100000;
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  int positive = 0;
  for (int i = 0; i < count; ++i) {
    const double x = random_normal(stream, i);
    ASSERT_TRUE(std::isfinite(x));
    m1 += x;
    m2 += x * x;
    m3 += x * x * x;
    m4 += x * x * x * x;
    positive += x > 0;
  }
  m1 /= count;
  m2 /= count;
  m3 /= count;
  m4 /= count;
  // Tolerances are about 5 standard errors for n = 1e5: mean 1/sqrt(n), variance sqrt(2/n),
  // third moment sqrt(15/n), fourth moment sqrt(96/n), sign fraction 0.5/sqrt(n).
  EXPECT_NEAR(m1, 0.0, 0.016);
  EXPECT_NEAR(m2 - m1 * m1, 1.0, 0.023);
  EXPECT_NEAR(m3, 0.0, 0.062);
  EXPECT_NEAR(m4, 3.0, 0.16);
  EXPECT_NEAR(static_cast<double>(positive) / count, 0.5, 0.008);
}

TEST(Philox, StreamsAreIndependent) {
  const RandomStream base{1234, kPurposeNoise, 10, 5};
  std::vector<RandomStream> streams = {base};
  RandomStream other = base;
  other.seed = 1235;
  streams.push_back(other);
  other = base;
  other.seed = base.seed + (1ull << 32);  // the high half of the seed matters too
  streams.push_back(other);
  other = base;
  other.purpose = kPurposeTimestep;
  streams.push_back(other);
  other = base;
  other.purpose = kPurposeDropoutBase + 1;
  streams.push_back(other);
  other = base;
  other.step = 11;
  streams.push_back(other);
  other = base;
  other.sample = 6;
  streams.push_back(other);

  const int count = 4096;
  std::vector<std::vector<double>> draws;
  for (const RandomStream& stream : streams) {
    draws.emplace_back();
    for (int i = 0; i < count; ++i) draws.back().push_back(random_normal(stream, i));
  }
  for (size_t a = 0; a < draws.size(); ++a) {
    for (size_t b = a + 1; b < draws.size(); ++b) {
      EXPECT_NE(draws[a][0], draws[b][0]) << "streams " << a << " and " << b;
      double dot = 0.0;
      for (int i = 0; i < count; ++i) dot += draws[a][i] * draws[b][i];
      // Correlation of independent normals has standard error 1/sqrt(4096) = 0.016; 5 of them.
      EXPECT_LT(std::fabs(dot / count), 0.08) << "streams " << a << " and " << b;
    }
  }
  // Elements within one stream do not repeat.
  std::set<float> distinct(draws[0].begin(), draws[0].end());
  EXPECT_GT(distinct.size(), static_cast<size_t>(count - 4));
}

}  // namespace
}  // namespace diffuse
