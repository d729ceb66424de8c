// The mean and standard deviation of drawn samples, for the tests that check a sampler lands on the data
// distribution.
#pragma once

#include <cmath>
#include <vector>

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

}  // namespace diffuse::testing
