// Feature means and covariances, the PSD square root and the Frechet distance, with Eigen in double.
#include "eval/frechet_distance.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

namespace diffuse::eval {

namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Eigen::Map<const Matrix> view(const std::vector<double>& values, int64_t dim) {
  return Eigen::Map<const Matrix>(values.data(), dim, dim);
}

Matrix sqrt_of_symmetric(const Matrix& matrix) {
  const Eigen::SelfAdjointEigenSolver<Matrix> solver(matrix);
  DIFFUSE_CHECK(solver.info() == Eigen::Success, "eigen-decomposition of a ", matrix.rows(), "x", matrix.cols(),
                " matrix failed (non-finite features?)");
  const Eigen::VectorXd roots = solver.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  return solver.eigenvectors() * roots.asDiagonal() * solver.eigenvectors().transpose();
}

}  // namespace

GaussianStatistics gaussian_statistics(const Tensor& features) {
  DIFFUSE_CHECK(features.rank() == 2 && features.dim(0) >= 2, "statistics need features [N>=2,d], got ",
                features.describe());
  const int64_t n = features.dim(0), d = features.dim(1);
  const Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> rows(features.f32(), n,
                                                                                                     d);
  const Matrix x = rows.cast<double>();
  const Eigen::RowVectorXd mean = x.colwise().mean();
  const Matrix centred = x.rowwise() - mean;
  const Matrix covariance = (centred.transpose() * centred) / static_cast<double>(n - 1);
  GaussianStatistics stats;
  stats.count = n;
  stats.dim = d;
  stats.mean.assign(mean.data(), mean.data() + d);
  stats.covariance.assign(covariance.data(), covariance.data() + d * d);
  return stats;
}

std::vector<double> psd_sqrt(const std::vector<double>& matrix, int64_t dim) {
  DIFFUSE_CHECK(static_cast<int64_t>(matrix.size()) == dim * dim, "psd_sqrt: ", matrix.size(), " values are not a ",
                dim, "x", dim, " matrix");
  const Matrix root = sqrt_of_symmetric(view(matrix, dim));
  return std::vector<double>(root.data(), root.data() + dim * dim);
}

double frechet_distance(const GaussianStatistics& a, const GaussianStatistics& b) {
  DIFFUSE_CHECK(a.dim == b.dim, "Frechet distance between ", a.dim, "-d and ", b.dim, "-d statistics");
  const int64_t d = a.dim;
  const Eigen::Map<const Eigen::VectorXd> mean_a(a.mean.data(), d), mean_b(b.mean.data(), d);
  const Matrix cov_a = view(a.covariance, d), cov_b = view(b.covariance, d);
  const Matrix root_a = sqrt_of_symmetric(cov_a);
  const Matrix middle = root_a * cov_b * root_a;
  const Eigen::SelfAdjointEigenSolver<Matrix> solver(0.5 * (middle + middle.transpose()), Eigen::EigenvaluesOnly);
  DIFFUSE_CHECK(solver.info() == Eigen::Success, "eigen-decomposition in the Frechet distance failed");
  const double trace_root = solver.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();
  const double distance = (mean_a - mean_b).squaredNorm() + cov_a.trace() + cov_b.trace() - 2.0 * trace_root;
  // Rounding can take a distance of zero slightly below it.
  return std::max(0.0, distance);
}

}  // namespace diffuse::eval
