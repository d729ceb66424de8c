#include "core/step_state.h"

#include <cstring>

#include "core/error.h"
#include "core/on_device.h"

namespace diffuse {

Tensor step_state_tensor(const StepState& state, Device device) {
  const Tensor host = Tensor::empty({kStepStateFloats});
  std::memcpy(host.raw(), &state, sizeof(state));
  return on_device(host, device);
}

StepState read_step_state(const Tensor& state) {
  DIFFUSE_CHECK(state.dtype() == DType::F32 && state.shape() == Shape{kStepStateFloats}, "a step state is f32 [",
                kStepStateFloats, "], got ", state.describe());
  StepState value;
  std::memcpy(&value, on_device(state, Device::CPU).raw(), sizeof(value));
  return value;
}

}  // namespace diffuse
