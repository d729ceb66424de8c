// Checks shared by the sampler tests: the moments of drawn samples (does a sampler land on the data distribution?)
// and that a sampler's draws are keyed by global sample index.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/tensor.h"
#include "diffusion/sampler.h"

namespace diffuse::testing {

inline double mean_of(const std::vector<float>& values) {
  double sum = 0;
  for (float v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

inline double std_of(const std::vector<float>& values) {
  const double mean = mean_of(values);
  double sum2 = 0;
  for (float v : values) sum2 += (v - mean) * (v - mean);
  return std::sqrt(sum2 / static_cast<double>(values.size()));
}

// Samples 2 and 3 are the same drawn in a batch of 4 or in a batch of 2 starting at global sample 2, so that a
// sample does not depend on how ranks and batches split the work. `draw(shape, options)` samples with `options`.
template <typename Draw>
void expect_keyed_by_global_index(SamplerOptions options, const Draw& draw) {
  options.first_sample = 0;
  const std::vector<float> all = to_vector(draw(Shape{4, 3, 3, 1}, options));
  options.first_sample = 2;
  const std::vector<float> tail = to_vector(draw(Shape{2, 3, 3, 1}, options));
  for (size_t i = 0; i < tail.size(); ++i) ASSERT_EQ(all[all.size() / 2 + i], tail[i]) << "element " << i;
}

}  // namespace diffuse::testing
