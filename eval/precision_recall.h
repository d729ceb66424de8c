// Improved precision and recall (Kynkaanniemi et al. 2019). Each feature set
// estimates its distribution's support as the union of balls around its
// points, each ball reaching the point's k-th nearest neighbour in the same
// set (itself excluded). Precision: the fraction of generated points inside
// the real support (are samples realistic?). Recall: the fraction of real
// points inside the generated support (is the data's variety covered?).
// A point on a ball's boundary counts as inside.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace diffuse::eval {

struct PrecisionRecall {
  double precision = 0.0;
  double recall = 0.0;
};

// points [N,d] -> the Euclidean distance from each point to its k-th nearest other point (N > k).
std::vector<double> kth_neighbour_distances(const Tensor& points, int k);

// real [Nr,d], generated [Ng,d], both with more than k points.
PrecisionRecall precision_recall(const Tensor& real, const Tensor& generated, int k = 3);

}  // namespace diffuse::eval
