// Gaussian statistics of features and the Frechet distance between them
// (FID, Heusel et al. 2017), in double precision:
//   FID = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)).
// tr((S_a S_b)^(1/2)) is computed as tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)): the
// two matrices are similar, so they have the same eigenvalues, and the second
// is symmetric positive semi-definite, so symmetric eigen-decompositions give
// it without the complex parts and the epsilon-retry that a general sqrtm
// (scipy's, in pytorch-fid) needs when the product is nearly singular.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace diffuse::eval {

struct GaussianStatistics {
  int64_t count = 0;               // samples the statistics came from
  int64_t dim = 0;                 // d
  std::vector<double> mean;        // [d]
  std::vector<double> covariance;  // [d,d] row-major, unbiased (divided by count - 1), as numpy.cov
};

// features [N,d] with N >= 2.
GaussianStatistics gaussian_statistics(const Tensor& features);

// The principal square root of a symmetric positive semi-definite [dim,dim] matrix (row-major);
// eigenvalues that rounding made slightly negative count as zero.
std::vector<double> psd_sqrt(const std::vector<double>& matrix, int64_t dim);

double frechet_distance(const GaussianStatistics& a, const GaussianStatistics& b);

}  // namespace diffuse::eval
