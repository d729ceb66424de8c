// Precision and recall from k-NN balls. Distances come from GEMMs of row
// blocks against the other set (|a|^2 + |b|^2 - 2 a.b, norms in double), so
// memory stays at one block x N matrix however many points there are.
#include "eval/precision_recall.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/ops.h"

namespace diffuse::eval {

namespace {

constexpr int64_t kBlockRows = 1024;

std::vector<double> squared_norms(const Tensor& points) {
  const int64_t n = points.dim(0), d = points.dim(1);
  std::vector<double> norms(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) norms[i] += static_cast<double>(points.f32()[i * d + j]) * points.f32()[i * d + j];
  return norms;
}

// Calls visit(i, j, squared distance) for every row i of `rows` and every row j of `columns`, a block of rows
// at a time; threads split the rows, so visit may write to anything indexed by i.
template <typename Visit>
void for_each_distance(const Tensor& rows, const Tensor& columns, Visit&& visit) {
  const std::vector<double> row_norms = squared_norms(rows), column_norms = squared_norms(columns);
  const int64_t n = rows.dim(0), m = columns.dim(0);
  for (int64_t begin = 0; begin < n; begin += kBlockRows) {
    const int64_t end = std::min(n, begin + kBlockRows);
    Tensor dots = Tensor::empty({end - begin, m});
    ops::linear_forward(rows.slice(begin, end), columns, Tensor(), dots);
#pragma omp parallel for schedule(static)
    for (int64_t i = begin; i < end; ++i)
      for (int64_t j = 0; j < m; ++j)
        visit(i, j, std::max(0.0, row_norms[i] + column_norms[j] - 2.0 * dots.f32()[(i - begin) * m + j]));
  }
}

void check_points(const Tensor& points, int k, const char* what) {
  DIFFUSE_CHECK(points.rank() == 2 && points.dim(0) > k, what, " needs more than k = ", k, " points [N,d], got ",
                points.describe());
}

}  // namespace

std::vector<double> kth_neighbour_distances(const Tensor& points, int k) {
  DIFFUSE_CHECK(k >= 1, "k must be at least 1, got ", k);
  check_points(points, k, "k-NN radii");
  const int64_t n = points.dim(0);
  // One block's rows at a time: distances of a row to every point, then the k-th smallest.
  std::vector<double> radii(static_cast<size_t>(n));
  std::vector<double> row_distances(static_cast<size_t>(std::min(n, kBlockRows) * n));
  for (int64_t begin = 0; begin < n; begin += kBlockRows) {
    const int64_t end = std::min(n, begin + kBlockRows);
    for_each_distance(points.slice(begin, end), points, [&](int64_t i, int64_t j, double squared) {
      row_distances[i * n + j] = i + begin == j ? std::numeric_limits<double>::infinity() : squared;
    });
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < end - begin; ++i) {
      double* row = row_distances.data() + i * n;
      std::nth_element(row, row + (k - 1), row + n);
      radii[begin + i] = std::sqrt(row[k - 1]);
    }
  }
  return radii;
}

namespace {

// covered[i] = 1 when row i of `points` lies inside some ball (centre row j of `centres`, radius radii[j]).
std::vector<char> covered_by_balls(const Tensor& points, const Tensor& centres, const std::vector<double>& radii) {
  std::vector<char> covered(static_cast<size_t>(points.dim(0)), 0);
  for_each_distance(points, centres, [&](int64_t i, int64_t j, double squared) {
    if (std::sqrt(squared) <= radii[j]) covered[i] = 1;
  });
  return covered;
}

}  // namespace

PrecisionRecall precision_recall(const Tensor& real, const Tensor& generated, int k) {
  check_points(real, k, "precision/recall (real)");
  check_points(generated, k, "precision/recall (generated)");
  DIFFUSE_CHECK(real.dim(1) == generated.dim(1), "precision/recall: feature dimensions ", real.dim(1), " and ",
                generated.dim(1), " differ");
  const std::vector<double> real_radii = kth_neighbour_distances(real, k);
  const std::vector<double> generated_radii = kth_neighbour_distances(generated, k);
  const std::vector<char> covered_generated = covered_by_balls(generated, real, real_radii);
  const std::vector<char> covered_real = covered_by_balls(real, generated, generated_radii);
  PrecisionRecall result;
  result.precision = static_cast<double>(std::count(covered_generated.begin(), covered_generated.end(), 1)) /
                     static_cast<double>(generated.dim(0));
  result.recall =
      static_cast<double>(std::count(covered_real.begin(), covered_real.end(), 1)) / static_cast<double>(real.dim(0));
  return result;
}

}  // namespace diffuse::eval
