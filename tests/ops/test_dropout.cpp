// Randomness (core/cpu/random.cpp): dropout and the normal/uniform fills.
// The property docs/architecture.md's world-size invariance rests on is tested directly:
// a sample's numbers depend on (seed, purpose, step, global sample index) only,
// so one call over a batch equals several calls over its slices.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/ops.h"
#include "core/philox.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

using testing::expect_close;
using testing::expect_gradient;
using testing::project;
using testing::random_tensor;

// Row lengths that are not multiples of the Philox block (4), batch 1, a flat per-sample row, and one large enough
// for the threaded path (rows of 5043 elements span several 1024-element tasks).
const Shape kShapes[] = {{3, 7}, {2, 5, 5, 3}, {1, 1}, {4, 2, 3, 3}, {2, 1030}, {3, 41, 41, 3}};

ops::DropoutKey make_key(uint64_t seed, uint32_t step, uint32_t first_sample, uint32_t layer) {
  ops::DropoutKey key;
  key.seed = seed;
  key.step = step;
  key.first_sample = first_sample;
  key.layer = layer;
  return key;
}

Tensor dropout(const Tensor& x, float p, const ops::DropoutKey& key) {
  const Tensor y = Tensor::empty(x.shape());
  ops::dropout_forward(x, p, key, y);
  return y;
}

// Fraction of elements whose zero/non-zero status differs between two tensors.
double mask_disagreement(const Tensor& a, const Tensor& b) {
  const std::vector<float> u = to_vector(a), v = to_vector(b);
  int64_t differ = 0;
  for (size_t i = 0; i < u.size(); ++i) differ += (u[i] == 0.0f) != (v[i] == 0.0f);
  return static_cast<double>(differ) / static_cast<double>(u.size());
}

// ---- dropout ------------------------------------------------------------------------------------

TEST(DropoutForward, MatchesPhiloxMask) {
  uint64_t seed = 1;
  for (const Shape& shape : kShapes) {
    const float p = 0.3f;
    const ops::DropoutKey key = make_key(0xabcdef12345ull, 17, 40, 3);
    const Tensor x = random_tensor(shape, seed++, 1.0f, 2.0f);  // no zeros, so y == 0 means dropped
    const Tensor y = dropout(x, p, key);
    const int64_t rows = shape[0], row = x.numel() / rows;
    std::vector<float> expected(static_cast<size_t>(x.numel()));
    for (int64_t n = 0; n < rows; ++n) {
      const RandomStream stream{key.seed, kPurposeDropoutBase + key.layer, key.step, key.first_sample + uint32_t(n)};
      for (int64_t i = 0; i < row; ++i) {
        const bool keep = random_uniform(stream, static_cast<uint64_t>(i)) >= p;
        expected[n * row + i] = keep ? static_cast<float>(x.f32()[n * row + i] / (1.0 - p)) : 0.0f;
      }
    }
    // The mask must agree exactly (atol 0 makes every dropped element exactly 0); kept values carry the fp32
    // rounding of 1/(1-p) and of the product, two half-ulps.
    expect_close(y, from_vector(expected, shape), 2e-7, 0.0, "dropout " + shape_string(shape));
  }
}

TEST(DropoutForward, ZeroProbabilityIsExactCopy) {
  const Tensor x = random_tensor({3, 5, 5, 7}, 10);
  expect_close(dropout(x, 0.0f, make_key(1, 2, 3, 4)), x, 0.0, 0.0, "p = 0");
  const Tensor in_place = testing::copy_to(x, Device::CPU);
  ops::dropout_forward(in_place, 0.0f, make_key(1, 2, 3, 4), in_place);
  expect_close(in_place, x, 0.0, 0.0, "p = 0 in place");
}

TEST(DropoutForward, KeepFractionIsNearOneMinusP) {
  Tensor ones = Tensor::empty({8, 64, 64});
  fill(ones, 1.0f);
  for (const float p : {0.1f, 0.3f, 0.5f, 0.9f}) {
    const std::vector<float> y = to_vector(dropout(ones, p, make_key(5, 6, 0, 1)));
    int64_t kept = 0;
    double total = 0.0;
    for (float v : y) {
      kept += v != 0.0f;
      total += v;
    }
    const double fraction = static_cast<double>(kept) / static_cast<double>(y.size());
    // 32768 Bernoulli draws: standard deviation <= 0.0028, so 0.015 is over 5 sigma.
    EXPECT_NEAR(fraction, 1.0 - p, 0.015) << "p " << p;
    // The 1/(1-p) scale keeps the mean at 1 (same binomial noise, scaled by 1/(1-p) <= 10; 0.1 is ~4 sigma at p 0.9).
    EXPECT_NEAR(total / static_cast<double>(y.size()), 1.0, p < 0.8f ? 0.03 : 0.1) << "p " << p;
  }
}

TEST(DropoutForward, BatchSplitMatchesWholeBatch) {
  // 1 rank x 4 samples == 2 ranks x 2 samples: rank r passes first_sample = 100 + 2r.
  const Tensor x = random_tensor({4, 3, 3, 5}, 20);
  const Tensor whole = dropout(x, 0.3f, make_key(9, 33, 100, 2));
  const Tensor first = dropout(x.slice(0, 2), 0.3f, make_key(9, 33, 100, 2));
  const Tensor second = dropout(x.slice(2, 4), 0.3f, make_key(9, 33, 102, 2));
  // Same stream, same arithmetic: bit-identical.
  expect_close(first, whole.slice(0, 2), 0.0, 0.0, "samples 0-1");
  expect_close(second, whole.slice(2, 4), 0.0, 0.0, "samples 2-3");
  // And the backward regenerates the same per-sample masks.
  const Tensor dy = random_tensor(x.shape(), 21), dx = Tensor::empty(x.shape()),
               dx_second = Tensor::empty({2, 3, 3, 5});
  ops::dropout_backward(dy, 0.3f, make_key(9, 33, 100, 2), dx);
  ops::dropout_backward(dy.slice(2, 4), 0.3f, make_key(9, 33, 102, 2), dx_second);
  expect_close(dx_second, dx.slice(2, 4), 0.0, 0.0, "backward samples 2-3");
}

TEST(DropoutForward, KeyPartsGiveDifferentMasks) {
  Tensor ones = Tensor::empty({4, 1000});
  fill(ones, 1.0f);
  const ops::DropoutKey base = make_key(1, 2, 3, 4);
  const Tensor reference = dropout(ones, 0.3f, base);
  ops::DropoutKey other_layer = base, other_step = base, other_seed = base, other_sample = base;
  other_layer.layer = 5;
  other_step.step = 3;
  other_seed.seed = 1ull << 40;  // the seed's high word is part of the key too
  other_sample.first_sample = 4;
  // Independent masks disagree on 2 p (1 - p) = 42% of elements (std 0.8% here); identical ones on none.
  EXPECT_NEAR(mask_disagreement(reference, dropout(ones, 0.3f, other_layer)), 0.42, 0.05) << "layer";
  EXPECT_NEAR(mask_disagreement(reference, dropout(ones, 0.3f, other_step)), 0.42, 0.05) << "step";
  EXPECT_NEAR(mask_disagreement(reference, dropout(ones, 0.3f, other_seed)), 0.42, 0.05) << "seed";
  // Shifting first_sample by one moves rows: row n of the shifted call is row n + 1 of the reference.
  const Tensor shifted = dropout(ones, 0.3f, other_sample);
  expect_close(shifted.slice(0, 3), reference.slice(1, 4), 0.0, 0.0, "rows keyed by global sample");
  EXPECT_NEAR(mask_disagreement(shifted, reference), 0.42, 0.05) << "first_sample";
}

TEST(DropoutBackward, RegeneratesTheForwardMask) {
  const Shape shape{3, 4, 4, 5};
  const ops::DropoutKey key = make_key(77, 8, 12, 1);
  const Tensor x = random_tensor(shape, 30, 1.0f, 2.0f), dy = random_tensor(shape, 31, 1.0f, 2.0f);
  const Tensor y = dropout(x, 0.4f, key), dx = Tensor::empty(shape);
  ops::dropout_backward(dy, 0.4f, key, dx);
  EXPECT_EQ(mask_disagreement(y, dx), 0.0);
  const float scale = 1.0f / (1.0f - 0.4f);
  for (int64_t i = 0; i < dx.numel(); ++i) {
    if (dx.f32()[i] == 0.0f) continue;
    EXPECT_EQ(dx.f32()[i], dy.f32()[i] * scale) << i;  // the same fp32 product
  }
}

TEST(DropoutGrad, FiniteDifferences) {
  const Shape shape{2, 3, 5, 6};
  const ops::DropoutKey key = make_key(3, 4, 5, 6);
  const Tensor x = random_tensor(shape, 40), w = random_tensor(shape, 41);
  const Tensor y = Tensor::empty(shape), dx = Tensor::empty(shape);
  ops::dropout_backward(w, 0.3f, key, dx);
  const auto loss = [&] {
    ops::dropout_forward(x, 0.3f, key, y);
    return project(y, w);
  };
  // For a fixed mask dropout is linear, so the quotient is exact up to fp32 rounding of y.
  expect_gradient("dropout dx p=0.3", x, dx, loss, testing::GradCheck{1e-2, 1e-2, 1e-3, 180});
}

// ---- fill_normal / fill_uniform -------------------------------------------------------------------

TEST(FillNormal, MatchesRandomNormalPerRow) {
  for (const Shape& shape : kShapes) {
    const Tensor t = Tensor::empty(shape);
    ops::fill_normal(t, 42, kPurposeNoise, 7, 1000);
    const int64_t rows = shape[0], row = t.numel() / rows;
    std::vector<float> expected(static_cast<size_t>(t.numel()));
    for (int64_t n = 0; n < rows; ++n)
      for (int64_t i = 0; i < row; ++i)
        expected[n * row + i] = random_normal(RandomStream{42, kPurposeNoise, 7, 1000 + uint32_t(n)}, uint64_t(i));
    // The same Box-Muller in double from the same bits, rounded once: bit-identical.
    expect_close(t, from_vector(expected, shape), 0.0, 0.0, "fill_normal " + shape_string(shape));
  }
}

TEST(FillNormal, MeanAndVariance) {
  const Tensor t = Tensor::empty({16, 256, 256});
  ops::fill_normal(t, 123, kPurposeNoise, 0, 0);
  double sum = 0.0, squares = 0.0;
  const float* data = t.f32();
  for (int64_t i = 0; i < t.numel(); ++i) {
    sum += data[i];
    squares += static_cast<double>(data[i]) * data[i];
  }
  const double count = static_cast<double>(t.numel()), mean = sum / count, variance = squares / count - mean * mean;
  // 2^20 draws: std of the mean 1e-3 and of the variance sqrt(2 / 2^20) = 1.4e-3; 5 sigma each.
  EXPECT_NEAR(mean, 0.0, 5e-3);
  EXPECT_NEAR(variance, 1.0, 7e-3);
}

TEST(FillNormal, BatchSplitMatchesWholeBatchAndPurposesDiffer) {
  const Tensor whole = Tensor::empty({4, 6, 6, 3}), first = Tensor::empty({2, 6, 6, 3}),
               second = Tensor::empty({2, 6, 6, 3}), other = Tensor::empty({4, 6, 6, 3});
  ops::fill_normal(whole, 5, kPurposeNoise, 9, 64);
  ops::fill_normal(first, 5, kPurposeNoise, 9, 64);
  ops::fill_normal(second, 5, kPurposeNoise, 9, 66);
  // Same streams: bit-identical.
  expect_close(first, whole.slice(0, 2), 0.0, 0.0, "samples 0-1");
  expect_close(second, whole.slice(2, 4), 0.0, 0.0, "samples 2-3");
  ops::fill_normal(other, 5, kPurposeSampler, 9, 64);
  int64_t equal = 0;
  for (int64_t i = 0; i < whole.numel(); ++i) equal += whole.f32()[i] == other.f32()[i];
  EXPECT_EQ(equal, 0) << "another purpose must give another stream";
}

TEST(FillUniform, MatchesRandomUniformAndMoments) {
  for (const Shape& shape : kShapes) {
    const Tensor t = Tensor::empty(shape);
    ops::fill_uniform(t, 8, kPurposeTimestep, 3, 20);
    const int64_t rows = shape[0], row = t.numel() / rows;
    std::vector<float> expected(static_cast<size_t>(t.numel()));
    for (int64_t n = 0; n < rows; ++n)
      for (int64_t i = 0; i < row; ++i)
        expected[n * row + i] = random_uniform(RandomStream{8, kPurposeTimestep, 3, 20 + uint32_t(n)}, uint64_t(i));
    // Same bits, same conversion: bit-identical.
    expect_close(t, from_vector(expected, shape), 0.0, 0.0, "fill_uniform " + shape_string(shape));
  }
  const Tensor big = Tensor::empty({16, 65536});
  ops::fill_uniform(big, 1, kPurposeTimestep, 0, 0);
  double sum = 0.0, squares = 0.0, low = 1.0, high = 0.0;
  for (int64_t i = 0; i < big.numel(); ++i) {
    const double v = big.f32()[i];
    sum += v;
    squares += v * v;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  const double count = static_cast<double>(big.numel()), mean = sum / count;
  // Open interval (0, 1); 2^20 draws: std of the mean 2.8e-4, of the variance ~8e-5; 5 sigma each.
  EXPECT_GT(low, 0.0);
  EXPECT_LT(high, 1.0);
  EXPECT_NEAR(mean, 0.5, 1.5e-3);
  EXPECT_NEAR(squares / count - mean * mean, 1.0 / 12.0, 4e-4);
}

}  // namespace
}  // namespace diffuse
