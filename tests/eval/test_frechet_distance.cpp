// FID: zero for a set against itself, the closed form for Gaussians (exact
// statistics, commuting and non-commuting covariances, and samples), the PSD
// square root on known matrices, and the n <= d error.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <string>
#include <vector>

#include "core/philox.h"
#include "eval/evaluation.h"
#include "eval/frechet_distance.h"

namespace diffuse::eval {
namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// n samples of N(mean, transform transform^T) as [n,d] features.
Tensor gaussian_samples(int64_t n, const Eigen::VectorXd& mean, const Matrix& transform, uint64_t seed) {
  const int64_t d = mean.size();
  Tensor features = Tensor::empty({n, d});
  const RandomStream stream{seed, 1, 0, 0};
  Eigen::VectorXd z(d);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) z[j] = random_normal(stream, static_cast<uint64_t>(i * d + j));
    const Eigen::VectorXd x = mean + transform * z;
    for (int64_t j = 0; j < d; ++j) features.f32()[i * d + j] = static_cast<float>(x[j]);
  }
  return features;
}

GaussianStatistics exact_statistics(const Eigen::VectorXd& mean, const Matrix& covariance) {
  GaussianStatistics stats;
  stats.count = 1000;
  stats.dim = mean.size();
  stats.mean.assign(mean.data(), mean.data() + mean.size());
  stats.covariance.assign(covariance.data(), covariance.data() + covariance.size());
  return stats;
}

// A fixed orthogonal 4x4 matrix: two Givens rotations composed.
Matrix rotation() {
  Matrix q = Matrix::Identity(4, 4), g = Matrix::Identity(4, 4);
  q(0, 0) = q(1, 1) = std::cos(0.7);
  q(0, 1) = -std::sin(0.7);
  q(1, 0) = std::sin(0.7);
  g(1, 1) = g(3, 3) = std::cos(1.1);
  g(1, 3) = -std::sin(1.1);
  g(3, 1) = std::sin(1.1);
  return q * g;
}

TEST(FrechetDistance, SetAgainstItselfIsZero) {
  Matrix transform = Matrix::Random(16, 16);
  const Tensor features = gaussian_samples(500, Eigen::VectorXd::Random(16), transform, 3);
  const GaussianStatistics stats = gaussian_statistics(features);
  EXPECT_NEAR(frechet_distance(stats, stats), 0.0, 1e-9);
}

TEST(FrechetDistance, CommutingCovariancesMatchClosedForm) {
  const Matrix q = rotation();
  const Eigen::Vector4d a(1.0, 2.0, 3.0, 4.0), b(4.0, 1.0, 2.0, 0.5);
  const Eigen::Vector4d mean_a(0.0, 1.0, 2.0, 3.0), mean_b(1.0, 1.0, 1.0, 3.5);
  double expected = (mean_a - mean_b).squaredNorm();
  for (int i = 0; i < 4; ++i) expected += a[i] + b[i] - 2.0 * std::sqrt(a[i] * b[i]);
  const Matrix cov_a = q * a.asDiagonal() * q.transpose(), cov_b = q * b.asDiagonal() * q.transpose();
  EXPECT_NEAR(frechet_distance(exact_statistics(mean_a, cov_a), exact_statistics(mean_b, cov_b)), expected, 1e-10);

  // From 40000 samples of each Gaussian: the estimate's error is a few percent at most.
  const Tensor samples_a = gaussian_samples(40000, mean_a, q * a.cwiseSqrt().asDiagonal(), 5);
  const Tensor samples_b = gaussian_samples(40000, mean_b, q * b.cwiseSqrt().asDiagonal(), 6);
  const double estimate = frechet_distance(gaussian_statistics(samples_a), gaussian_statistics(samples_b));
  EXPECT_NEAR(estimate, expected, 0.03 * expected) << "closed form " << expected;
}

TEST(FrechetDistance, NonCommutingCovariancesMatchEigenvaluesOfTheProduct) {
  const Matrix p = Matrix::Random(5, 5), r = Matrix::Random(5, 5);
  const Matrix cov_a = p * p.transpose() + 0.1 * Matrix::Identity(5, 5);
  const Matrix cov_b = r * r.transpose() + 0.2 * Matrix::Identity(5, 5);
  // tr((A B)^(1/2)) from the (real, positive) eigenvalues of the non-symmetric product.
  const Eigen::EigenSolver<Matrix> solver(cov_a * cov_b);
  const double trace_root = solver.eigenvalues().real().cwiseSqrt().sum();
  const Eigen::VectorXd mean = Eigen::VectorXd::Zero(5);
  const double expected = cov_a.trace() + cov_b.trace() - 2.0 * trace_root;
  EXPECT_NEAR(frechet_distance(exact_statistics(mean, cov_a), exact_statistics(mean, cov_b)), expected,
              1e-9 * (cov_a.trace() + cov_b.trace()));
}

TEST(PsdSqrt, KnownMatrices) {
  const std::vector<double> root = psd_sqrt({5, 4, 4, 5}, 2);  // (2 1; 1 2)^2
  const std::vector<double> expected = {2, 1, 1, 2};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(root[i], expected[i], 1e-12);
  const std::vector<double> diagonal = psd_sqrt({9, 0, 0, 0, 4, 0, 0, 0, 0}, 3);
  EXPECT_NEAR(diagonal[0], 3.0, 1e-12);
  EXPECT_NEAR(diagonal[4], 2.0, 1e-12);
  EXPECT_NEAR(diagonal[8], 0.0, 1e-12);
  // Singular: (1 1; 1 1) = 2 v v^T with v = (1 1)/sqrt(2), so its root is sqrt(2) v v^T.
  const std::vector<double> singular = psd_sqrt({1, 1, 1, 1}, 2);
  for (double v : singular) EXPECT_NEAR(v, 1.0 / std::sqrt(2.0), 1e-12);
}

TEST(FrechetDistance, TooFewSamplesForTheDimensionIsAnError) {
  try {
    check_sample_count(128, 128, "--n");
    FAIL() << "no error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("128 images are too few for 128-d features"), std::string::npos) << message;
  }
  EXPECT_NO_THROW(check_sample_count(129, 128, "--n"));
}

}  // namespace
}  // namespace diffuse::eval
