// KID: subset sampling and the unbiased MMD^2 with the cubic kernel. The
// Gram matrices are one GEMM each (ops::linear_forward computes x w^T).
#include "eval/kernel_distance.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "core/ops.h"
#include "core/philox.h"

namespace diffuse::eval {

namespace {

constexpr uint32_t kPurposeKidSubsets = 0x4b4944;  // "KID": a stream no training code uses

// Sum of (gram / d + 1)^3 over the matrix, leaving out the diagonal when asked.
double kernel_sum(const Tensor& gram, int64_t d, bool skip_diagonal) {
  const int64_t rows = gram.dim(0), cols = gram.dim(1);
  const float* values = gram.f32();
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      if (skip_diagonal && i == j) continue;
      const double k = static_cast<double>(values[i * cols + j]) / static_cast<double>(d) + 1.0;
      total += k * k * k;
    }
  return total;
}

Tensor gram(const Tensor& a, const Tensor& b) {
  Tensor result = Tensor::empty({a.dim(0), b.dim(0)});
  ops::linear_forward(a, b, Tensor(), result);
  return result;
}

// `size` distinct row indices of [0, count): the first `size` of a Fisher-Yates shuffle keyed by (seed, subset).
std::vector<int64_t> subset_rows(int64_t count, int64_t size, uint64_t seed, uint32_t subset, uint32_t which) {
  std::vector<int64_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  const RandomStream stream{seed, kPurposeKidSubsets, subset, which};
  for (int64_t i = 0; i < size; ++i) {
    const auto pick = i + static_cast<int64_t>(random_uniform(stream, static_cast<uint64_t>(i)) * (count - i));
    std::swap(order[i], order[std::min(pick, count - 1)]);
  }
  order.resize(static_cast<size_t>(size));
  return order;
}

Tensor gather_rows(const Tensor& features, const std::vector<int64_t>& rows) {
  const int64_t d = features.dim(1);
  Tensor result = Tensor::empty({static_cast<int64_t>(rows.size()), d});
  for (size_t i = 0; i < rows.size(); ++i)
    std::memcpy(result.f32() + static_cast<int64_t>(i) * d, features.f32() + rows[i] * d,
                static_cast<size_t>(d) * sizeof(float));
  return result;
}

}  // namespace

double unbiased_mmd2(const Tensor& a, const Tensor& b) {
  DIFFUSE_CHECK(a.rank() == 2 && a.shape() == b.shape() && a.dim(0) >= 2, "unbiased MMD needs two [m>=2,d] sets, got ",
                a.describe(), " and ", b.describe());
  const int64_t m = a.dim(0), d = a.dim(1);
  const double pairs = static_cast<double>(m) * static_cast<double>(m - 1);
  return kernel_sum(gram(a, a), d, true) / pairs + kernel_sum(gram(b, b), d, true) / pairs -
         2.0 * kernel_sum(gram(a, b), d, false) / (static_cast<double>(m) * static_cast<double>(m));
}

KernelDistance kernel_distance(const Tensor& a, const Tensor& b, const KernelDistanceOptions& options) {
  DIFFUSE_CHECK(a.rank() == 2 && b.rank() == 2 && a.dim(1) == b.dim(1), "KID needs feature sets [N,d] of one d, got ",
                a.describe(), " and ", b.describe());
  DIFFUSE_CHECK(options.subsets > 0, "KID needs at least one subset");
  const int64_t m = std::min({options.subset_size, a.dim(0), b.dim(0)});
  DIFFUSE_CHECK(m >= 2, "KID needs at least 2 samples per set, got ", a.dim(0), " and ", b.dim(0));
  std::vector<double> values;
  for (int s = 0; s < options.subsets; ++s) {
    const Tensor subset_a = gather_rows(a, subset_rows(a.dim(0), m, options.seed, static_cast<uint32_t>(s), 0));
    const Tensor subset_b = gather_rows(b, subset_rows(b.dim(0), m, options.seed, static_cast<uint32_t>(s), 1));
    values.push_back(unbiased_mmd2(subset_a, subset_b));
  }
  KernelDistance result;
  result.subsets = options.subsets;
  result.subset_size = m;
  result.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double spread = 0.0;
  for (double value : values) spread += (value - result.mean) * (value - result.mean);
  result.std = std::sqrt(spread / static_cast<double>(values.size()));
  return result;
}

}  // namespace diffuse::eval
