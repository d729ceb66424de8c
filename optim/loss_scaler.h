// DynamicLossScaler: the guard fp16 training needs (and a safety net in
// every precision: a step whose gradients are not finite is never applied).
//
// The loss is multiplied by scale() before backward, so the gradients come out
// multiplied by it too; the optimiser divides it back out. Once a step's
// gradients are complete (after the all-reduce), their sum of squares goes to
// decide_step(): if it is inf or NaN some gradient overflowed, so the step is
// skipped (no AdamW, no EMA update) and the scale halves; after
// growth_interval finite steps in a row the scale doubles. Scaler state
// belongs in checkpoints (the `loss_scale` attribute) so a resumed run
// continues with the same scale.
//
// Wiring, in Trainer::run (one rank's view; ranks agree because they all see
// the same all-reduced gradients):
//   loss_scale = scaler.scale() / batch_size                  // was 1 / batch_size
//   ... train_micro_batch(..., loss_scale) per micro-batch, all_reduce_sum(grads) ...
//   StepDecision d = decide_step(scaler, ops::sum_of_squares(grads), train.grad_clip);
//   if (d.apply) { adam.grad_scale = d.grad_scale; adamw_update(...); ema_update(...); }
//   log d.grad_norm (unscaled), scaler.scale() and scaler.skipped_steps().
#pragma once

#include <cstdint>

namespace diffuse {

struct LossScalerOptions {
  double initial_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;  // finite steps in a row before the scale grows
  double min_scale = 1.0;          // never below (then the loss itself is not finite)
  double max_scale = 16777216.0;   // 2^24: beyond it fp16 gradients overflow anyway
};

class DynamicLossScaler {
 public:
  // A scaler that keeps the scale at 1 (fp32 and bf16): it still skips non-finite steps.
  static DynamicLossScaler fixed();
  explicit DynamicLossScaler(const LossScalerOptions& options = LossScalerOptions());

  bool dynamic() const { return dynamic_; }
  // What the loss is multiplied by before backward.
  float scale() const { return static_cast<float>(scale_); }

  // Records a step whose gradients (scaled by scale()) have this sum of squares;
  // returns whether to apply it. Halves the scale on overflow, grows it after
  // growth_interval finite steps in a row.
  bool update(double scaled_sum_of_squares);

  int64_t skipped_steps() const { return skipped_; }                // over the run
  int64_t consecutive_skips() const { return consecutive_skips_; }  // the trainer may stop after many
  int64_t good_steps() const { return good_steps_; }                // finite steps since the scale last changed

  // For checkpoints.
  struct State {
    double scale = 1.0;
    int64_t good_steps = 0;
    int64_t skipped_steps = 0;
  };
  State state() const { return State{scale_, good_steps_, skipped_}; }
  void restore(const State& state);

 private:
  LossScalerOptions options_;
  bool dynamic_ = true;
  double scale_ = 1.0;
  int64_t good_steps_ = 0;
  int64_t skipped_ = 0;
  int64_t consecutive_skips_ = 0;
};

// One optimiser step's decision.
struct StepDecision {
  bool apply = true;        // false: the gradients overflowed; leave weights, moments and EMA alone
  double grad_norm = 0.0;   // global norm of the unscaled gradients (inf or NaN on overflow)
  float grad_scale = 1.0f;  // AdamWStep::grad_scale: undoes the loss scale and clips to grad_clip
};

// Updates the scaler from the gradients' sum of squares (taken at the scale
// the step was run with) and computes the AdamW gradient factor, clipping the
// unscaled global norm to grad_clip (0 = no clipping).
StepDecision decide_step(DynamicLossScaler& scaler, double scaled_sum_of_squares, double grad_clip);

}  // namespace diffuse
