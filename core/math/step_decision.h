// The optimiser step's decision (the dynamic loss scaler and gradient
// clipping), shared by the host's DynamicLossScaler (optim/loss_scaler.h) and
// both backends' decide_step op, so that the decision the device takes every
// step is the host's to the bit:
//   grad_norm = sqrt(scaled sum of squares) / scale
//   not finite: skip the step, count it, halve the scale (dynamic only)
//   finite: after growth_interval finite steps in a row double the scale
//           (dynamic only); grad_factor = min(1, grad_clip / grad_norm) / scale
// The state lives in device memory between steps, so the host reads it only
// when it logs, checkpoints or finishes.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace diffuse {

// How the scaler moves and the clipping threshold: fixed for the run.
struct StepRule {
  bool dynamic = true;  // false: the scale stays 1 (fp32, bf16); non-finite steps are still skipped
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;  // finite steps in a row before the scale grows
  double min_scale = 1.0;
  double max_scale = 16777216.0;
  double grad_clip = 0.0;  // largest unscaled global gradient norm; 0 = no clipping
};

// The scaler's state and the last step's decision, as a device tensor holds it (f32 [kStepStateFloats]).
struct StepState {
  double scale = 1.0;             // what the loss is multiplied by before backward
  int64_t good_steps = 0;         // finite steps since the scale last changed
  int64_t skipped_steps = 0;      // over the run
  int64_t consecutive_skips = 0;  // non-finite steps in a row up to the last one
  double grad_norm = 0.0;         // the last step's global norm of the unscaled gradients (inf or NaN on overflow)
  float grad_factor = 1.0f;       // the last step's AdamW gradient factor: undoes the loss scale, clips
  int32_t skip = 0;               // 1: the last step's gradients were not finite; weights, moments and EMA stay
};
constexpr int64_t kStepStateFloats = sizeof(StepState) / sizeof(float);
static_assert(sizeof(StepState) % sizeof(float) == 0, "StepState must fill whole f32 slots");

// False for inf and NaN: std::isfinite on the host, CUDA's isfinite on the device.
DIFFUSE_HD bool finite(double value) {
#if defined(__CUDA_ARCH__)
  return isfinite(value);
#else
  return std::isfinite(value);
#endif
}

// Records a step whose gradients (taken at state.scale) have this sum of squares.
DIFFUSE_HD void decide_step_state(const StepRule& rule, double scaled_sum_of_squares, StepState& state) {
  // The scale the gradients carry, as the loss was multiplied by it (in float), before this step changes it.
  const double scale = static_cast<float>(state.scale);
  state.grad_norm = sqrt(scaled_sum_of_squares) / scale;
  if (!finite(scaled_sum_of_squares)) {
    ++state.skipped_steps;
    ++state.consecutive_skips;
    state.good_steps = 0;
    if (rule.dynamic) state.scale = fmax(rule.min_scale, state.scale * rule.backoff_factor);
    state.skip = 1;
    state.grad_factor = 1.0f;
    return;
  }
  state.consecutive_skips = 0;
  if (rule.dynamic && ++state.good_steps >= rule.growth_interval) {
    state.scale = fmin(rule.max_scale, state.scale * rule.growth_factor);
    state.good_steps = 0;
  }
  const double clip = rule.grad_clip > 0 && state.grad_norm > rule.grad_clip ? rule.grad_clip / state.grad_norm : 1.0;
  state.grad_factor = static_cast<float>(clip / scale);
  state.skip = 0;
}

// What a loss backward multiplies by: `factor` times the dynamic scale `state` holds (in float, as the loss carries
// it; decide_step_state divides the same float back out), or `factor` alone where there is no state.
DIFFUSE_HD float loss_scale_times(float factor, const StepState* state) {
  return state != nullptr ? factor * static_cast<float>(state->scale) : factor;
}

}  // namespace diffuse
