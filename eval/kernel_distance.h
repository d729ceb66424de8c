// Kernel Inception Distance (Binkowski et al. 2018): the unbiased estimate of
// the squared maximum mean discrepancy between two feature sets under the
// cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random
// subsets of equal size m:
//   MMD^2 = sum_{i!=j} k(a_i,a_j) / (m(m-1)) + sum_{i!=j} k(b_i,b_j) / (m(m-1))
//           - 2 sum_{i,j} k(a_i,b_j) / m^2.
// Its expectation is exactly zero when both sets come from one distribution,
// so unlike FID it has no bias that depends on the sample size. Reported as
// the mean and the (population) standard deviation over the subsets.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace diffuse::eval {

struct KernelDistanceOptions {
  int subsets = 100;
  int64_t subset_size = 1000;  // m, capped at the smaller set
  uint64_t seed = 0;           // which subsets (Philox, so the same on every machine)
};

struct KernelDistance {
  double mean = 0.0;
  double std = 0.0;
  int subsets = 0;
  int64_t subset_size = 0;
};

// The unbiased MMD^2 of two [m,d] feature sets of equal size m >= 2.
double unbiased_mmd2(const Tensor& a, const Tensor& b);

// a [Na,d], b [Nb,d]: KID over `options.subsets` subsets drawn without replacement.
KernelDistance kernel_distance(const Tensor& a, const Tensor& b, const KernelDistanceOptions& options = {});

}  // namespace diffuse::eval
