// Precision and recall on constructed point sets whose k-NN balls are known:
// grids (3rd-neighbour radius 1 inside, sqrt(2) at corners) and clusters far
// apart, so each answer is an exact fraction.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "eval/precision_recall.h"

namespace diffuse::eval {
namespace {

// side x side grid with spacing 1, offset by (x0, y0), as [side^2, 2].
std::vector<float> grid(int side, float x0, float y0) {
  std::vector<float> points;
  for (int i = 0; i < side; ++i)
    for (int j = 0; j < side; ++j) {
      points.push_back(x0 + static_cast<float>(j));
      points.push_back(y0 + static_cast<float>(i));
    }
  return points;
}

Tensor points_of(const std::vector<std::vector<float>>& parts) {
  std::vector<float> all;
  for (const auto& part : parts) all.insert(all.end(), part.begin(), part.end());
  return from_vector(all, {static_cast<int64_t>(all.size() / 2), 2});
}

TEST(PrecisionRecall, KthNeighbourRadiiOfAGrid) {
  const std::vector<double> radii = kth_neighbour_distances(points_of({grid(3, 0, 0)}), 3);
  EXPECT_NEAR(radii[0], std::sqrt(2.0), 1e-6);  // corner: 1, 1, sqrt(2)
  EXPECT_NEAR(radii[1], 1.0, 1e-6);             // edge: 1, 1, 1
  EXPECT_NEAR(radii[4], 1.0, 1e-6);             // centre: four at 1
}

TEST(PrecisionRecall, OneOfTwoClustersCovered) {
  // Real: clusters A and B; generated: A shifted by 0.1. Every sample is realistic, half the data is missed.
  const Tensor real = points_of({grid(5, 0, 0), grid(5, 1000, 0)});
  const Tensor generated = points_of({grid(5, 0.1f, 0)});
  const PrecisionRecall result = precision_recall(real, generated, 3);
  EXPECT_DOUBLE_EQ(result.precision, 1.0);
  EXPECT_DOUBLE_EQ(result.recall, 0.5);
}

TEST(PrecisionRecall, HalfTheSamplesOffTheData) {
  // Generated: A shifted, plus a cluster far from all data: half the samples are unrealistic; the generated
  // balls around the far cluster cover no real point, those around A cover A only.
  const Tensor real = points_of({grid(5, 0, 0), grid(5, 1000, 0)});
  const Tensor generated = points_of({grid(5, 0.1f, 0), grid(5, 0, 5000)});
  const PrecisionRecall result = precision_recall(real, generated, 3);
  EXPECT_DOUBLE_EQ(result.precision, 0.5);
  EXPECT_DOUBLE_EQ(result.recall, 0.5);
  // Identical sets: everything covered.
  const PrecisionRecall same = precision_recall(real, real, 3);
  EXPECT_DOUBLE_EQ(same.precision, 1.0);
  EXPECT_DOUBLE_EQ(same.recall, 1.0);
}

TEST(PrecisionRecall, NeedsMoreThanKPoints) {
  EXPECT_THROW(precision_recall(points_of({grid(1, 0, 0)}), points_of({grid(2, 0, 0)}), 3), Error);
}

}  // namespace
}  // namespace diffuse::eval
