#include "optim/loss_scaler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace diffuse {

DynamicLossScaler DynamicLossScaler::fixed() {
  LossScalerOptions options;
  options.initial_scale = 1.0;
  DynamicLossScaler scaler(options);
  scaler.rule_.dynamic = false;
  return scaler;
}

DynamicLossScaler::DynamicLossScaler(const LossScalerOptions& options) {
  DIFFUSE_CHECK(
      options.min_scale > 0 && options.min_scale <= options.initial_scale && options.initial_scale <= options.max_scale,
      "loss scaler: need 0 < min_scale <= initial_scale <= max_scale, got ", options.min_scale, ", ",
      options.initial_scale, ", ", options.max_scale);
  DIFFUSE_CHECK(options.growth_factor > 1 && options.backoff_factor > 0 && options.backoff_factor < 1 &&
                    options.growth_interval > 0,
                "loss scaler: need growth_factor > 1, 0 < backoff_factor < 1 and growth_interval > 0");
  rule_.growth_factor = options.growth_factor;
  rule_.backoff_factor = options.backoff_factor;
  rule_.growth_interval = options.growth_interval;
  rule_.min_scale = options.min_scale;
  rule_.max_scale = options.max_scale;
  state_.scale = options.initial_scale;
}

bool DynamicLossScaler::update(double scaled_sum_of_squares) {
  return decide_step(*this, scaled_sum_of_squares, 0.0).apply;
}

void DynamicLossScaler::restore(const State& state) {
  DIFFUSE_CHECK(state.scale > 0 && std::isfinite(state.scale), "loss scaler: cannot restore scale ", state.scale);
  state_ = StepState{};
  state_.scale = rule_.dynamic ? std::min(rule_.max_scale, std::max(rule_.min_scale, state.scale)) : 1.0;
  state_.good_steps = state.good_steps;
  state_.skipped_steps = state.skipped_steps;
}

StepRule DynamicLossScaler::rule(double grad_clip) const {
  StepRule rule = rule_;
  rule.grad_clip = grad_clip;
  return rule;
}

StepDecision decide_step(DynamicLossScaler& scaler, double scaled_sum_of_squares, double grad_clip) {
  StepState state = scaler.step_state();
  decide_step_state(scaler.rule(grad_clip), scaled_sum_of_squares, state);
  scaler.set_step_state(state);
  StepDecision decision;
  decision.apply = state.skip == 0;
  decision.grad_norm = state.grad_norm;
  decision.grad_scale = state.grad_factor;
  return decision;
}

}  // namespace diffuse
