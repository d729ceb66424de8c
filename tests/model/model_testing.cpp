#include "tests/model/model_testing.h"

#include <cmath>

#include "tests/support/op_testing.h"

namespace diffuse::testing {

void randomize_parameters(model::ParameterStore& store, uint64_t seed) {
  for (int64_t i = 0; i < store.count(); ++i) {
    const model::Parameter& parameter = store.at(i);
    const uint64_t key = seed * 1000003u + static_cast<uint64_t>(i);
    Tensor values;
    switch (parameter.init.rule) {
      case model::InitRule::kFanAvgUniform: {
        int64_t fan_in = 0, fan_out = 0;
        model::weight_fans(parameter.shape, fan_in, fan_out);
        const auto limit = static_cast<float>(std::sqrt(3.0 / (0.5 * static_cast<double>(fan_in + fan_out))));
        values = random_tensor(parameter.shape, key, -limit, limit);
        break;
      }
      case model::InitRule::kZeros:
        values = random_tensor(parameter.shape, key, -0.2f, 0.2f);
        break;
      case model::InitRule::kOnes:
        values = random_tensor(parameter.shape, key, 0.8f, 1.2f);
        break;
      case model::InitRule::kNormal:
        values = random_tensor(parameter.shape, key, -1.0f, 1.0f);
        break;
    }
    Tensor destination = parameter.value;
    copy(values, destination);
  }
}

}  // namespace diffuse::testing
