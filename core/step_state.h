// The optimiser step's state (core/math/step_decision.h) as a tensor holds it: f32 [kStepStateFloats] whose
// bytes are one StepState, so the device reads and updates it without the host.
#pragma once

#include "core/math/step_decision.h"
#include "core/tensor.h"

namespace diffuse {

// `state` as a tensor on `device`.
Tensor step_state_tensor(const StepState& state, Device device);

// The state a step-state tensor holds, read to the host (a copy from the device where it lives there).
StepState read_step_state(const Tensor& state);

}  // namespace diffuse
