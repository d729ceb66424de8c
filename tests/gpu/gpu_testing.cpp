#include "tests/gpu/gpu_testing.h"

#include <cmath>
#include <vector>

namespace diffuse::testing {

double relative_error(const Tensor& actual, const Tensor& expected) {
  const std::vector<float> a = to_vector(actual), e = to_vector(expected);
  double difference = 0.0, reference = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - e[i];
    difference += d * d;
    reference += static_cast<double>(e[i]) * e[i];
  }
  return reference > 0.0 ? std::sqrt(difference / reference) : std::sqrt(difference);
}

}  // namespace diffuse::testing
