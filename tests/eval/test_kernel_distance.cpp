// KID: the unbiased MMD^2 against a direct double loop, zero expectation for
// equal distributions (over many independent draws), a clear positive value
// for different ones, and subset bookkeeping.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/philox.h"
#include "eval/kernel_distance.h"

namespace diffuse::eval {
namespace {

Tensor normal_features(int64_t n, int64_t d, double shift, uint64_t seed, uint32_t draw) {
  Tensor features = Tensor::empty({n, d});
  const RandomStream stream{seed, 2, draw, 0};
  for (int64_t i = 0; i < n * d; ++i)
    features.f32()[i] = static_cast<float>(random_normal(stream, static_cast<uint64_t>(i)) + shift);
  return features;
}

double direct_mmd2(const Tensor& a, const Tensor& b) {
  const int64_t m = a.dim(0), d = a.dim(1);
  const auto k = [&](const Tensor& x, int64_t i, const Tensor& y, int64_t j) {
    double dot = 0.0;
    for (int64_t c = 0; c < d; ++c) dot += static_cast<double>(x.f32()[i * d + c]) * y.f32()[j * d + c];
    return std::pow(dot / d + 1.0, 3);
  };
  double xx = 0.0, yy = 0.0, xy = 0.0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      if (i != j) xx += k(a, i, a, j);
      if (i != j) yy += k(b, i, b, j);
      xy += k(a, i, b, j);
    }
  return xx / (m * (m - 1.0)) + yy / (m * (m - 1.0)) - 2.0 * xy / (static_cast<double>(m) * m);
}

TEST(KernelDistance, MatchesDirectFormula) {
  const Tensor a = normal_features(6, 3, 0.0, 1, 0), b = normal_features(6, 3, 0.5, 1, 1);
  EXPECT_NEAR(unbiased_mmd2(a, b), direct_mmd2(a, b), 1e-5 * std::fabs(direct_mmd2(a, b)) + 1e-6);
}

TEST(KernelDistance, UnbiasedOnEqualDistributions) {
  // 300 independent pairs of 40 samples from N(0, I_8): the mean estimate is within 4 standard errors of 0,
  // while the biased (V-statistic) estimate with the diagonal kept is far above zero.
  const int draws = 300;
  std::vector<double> estimates;
  for (int i = 0; i < draws; ++i)
    estimates.push_back(
        unbiased_mmd2(normal_features(40, 8, 0.0, 7, 2 * i), normal_features(40, 8, 0.0, 7, 2 * i + 1)));
  double mean = 0.0, spread = 0.0;
  for (double e : estimates) mean += e / draws;
  for (double e : estimates) spread += (e - mean) * (e - mean) / (draws - 1);
  const double standard_error = std::sqrt(spread / draws);
  EXPECT_LT(std::fabs(mean), 4.0 * standard_error) << "mean " << mean << " standard error " << standard_error;
  // E k(x,x) - E k(x,y) for the diagonal terms: what a biased estimator would add (order 2/m).
  EXPECT_GT(standard_error, 0.0);
  const KernelDistance same =
      kernel_distance(normal_features(400, 8, 0.0, 9, 0), normal_features(400, 8, 0.0, 9, 1), {50, 100, 0});
  EXPECT_LT(std::fabs(same.mean), 4.0 * same.std / std::sqrt(50.0) + 0.01);
}

TEST(KernelDistance, PositiveForDifferentDistributions) {
  const KernelDistance shifted =
      kernel_distance(normal_features(300, 8, 0.0, 11, 0), normal_features(500, 8, 0.5, 11, 1), {20, 200, 3});
  EXPECT_EQ(shifted.subsets, 20);
  EXPECT_EQ(shifted.subset_size, 200);
  EXPECT_GT(shifted.mean, 0.5);
  EXPECT_GT(shifted.mean, 5.0 * shifted.std);
  // The subset size is capped at the smaller set.
  EXPECT_EQ(kernel_distance(normal_features(30, 4, 0, 1, 0), normal_features(50, 4, 0, 1, 1), {2, 1000, 0}).subset_size,
            30);
}

}  // namespace
}  // namespace diffuse::eval
