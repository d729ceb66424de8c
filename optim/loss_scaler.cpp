#include "optim/loss_scaler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace diffuse {

DynamicLossScaler DynamicLossScaler::fixed() {
  LossScalerOptions options;
  options.initial_scale = 1.0;
  DynamicLossScaler scaler(options);
  scaler.dynamic_ = false;
  return scaler;
}

DynamicLossScaler::DynamicLossScaler(const LossScalerOptions& options) : options_(options) {
  DIFFUSE_CHECK(
      options.min_scale > 0 && options.min_scale <= options.initial_scale && options.initial_scale <= options.max_scale,
      "loss scaler: need 0 < min_scale <= initial_scale <= max_scale, got ", options.min_scale, ", ",
      options.initial_scale, ", ", options.max_scale);
  DIFFUSE_CHECK(options.growth_factor > 1 && options.backoff_factor > 0 && options.backoff_factor < 1 &&
                    options.growth_interval > 0,
                "loss scaler: need growth_factor > 1, 0 < backoff_factor < 1 and growth_interval > 0");
  scale_ = options.initial_scale;
}

bool DynamicLossScaler::update(double scaled_sum_of_squares) {
  if (!std::isfinite(scaled_sum_of_squares)) {
    ++skipped_;
    ++consecutive_skips_;
    good_steps_ = 0;
    if (dynamic_) scale_ = std::max(options_.min_scale, scale_ * options_.backoff_factor);
    return false;
  }
  consecutive_skips_ = 0;
  if (dynamic_ && ++good_steps_ >= options_.growth_interval) {
    scale_ = std::min(options_.max_scale, scale_ * options_.growth_factor);
    good_steps_ = 0;
  }
  return true;
}

void DynamicLossScaler::restore(const State& state) {
  DIFFUSE_CHECK(state.scale > 0 && std::isfinite(state.scale), "loss scaler: cannot restore scale ", state.scale);
  scale_ = dynamic_ ? std::min(options_.max_scale, std::max(options_.min_scale, state.scale)) : 1.0;
  good_steps_ = state.good_steps;
  skipped_ = state.skipped_steps;
  consecutive_skips_ = 0;
}

StepDecision decide_step(DynamicLossScaler& scaler, double scaled_sum_of_squares, double grad_clip) {
  const double scale = scaler.scale();  // the scale this step's gradients carry, before update() changes it
  StepDecision decision;
  decision.grad_norm = std::sqrt(scaled_sum_of_squares) / scale;
  decision.apply = scaler.update(scaled_sum_of_squares);
  if (!decision.apply) return decision;
  const double clip = grad_clip > 0 && decision.grad_norm > grad_clip ? grad_clip / decision.grad_norm : 1.0;
  decision.grad_scale = static_cast<float>(clip / scale);
  return decision;
}

}  // namespace diffuse
