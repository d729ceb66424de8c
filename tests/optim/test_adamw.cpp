// The optimizer state and the learning-rate schedules: each decay's rate at
// the warmup and end points, AdamW's state against the bare ops it runs, the
// sharded path (on one process: one shard) against the whole one, the step
// decision it takes and reads on the device, and the gather/load round trip
// checkpoints rely on.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/ops.h"
#include "distributed/communicator.h"
#include "optim/adamw.h"
#include "optim/loss_scaler.h"
#include "optim/lr_schedule.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

constexpr int64_t kNumel = 1000;

TEST(LrSchedule, ConstantWarmsUpThenHoldsThePeak) {
  const LrSchedule schedule{2.0, 4, LrDecay::kConstant, 10};
  EXPECT_EQ(schedule.rate(1), 0.5);
  EXPECT_EQ(schedule.rate(2), 1.0);
  EXPECT_EQ(schedule.rate(4), 2.0);
  EXPECT_EQ(schedule.rate(5), 2.0);
  EXPECT_EQ(schedule.rate(10), 2.0);
  EXPECT_EQ((LrSchedule{2.0, 0, LrDecay::kConstant, 10}.rate(1)), 2.0);
}

TEST(LrSchedule, LinearGivesUpdateSOfSTheShareSMinusSPlusOneOverS) {
  const LrSchedule schedule{2.0, 4, LrDecay::kLinear, 10};
  EXPECT_DOUBLE_EQ(schedule.rate(1), 0.5);  // warmup 1/4 of the peak, times 10/10
  EXPECT_DOUBLE_EQ(schedule.rate(2), 0.9);  // 2/4 x 9/10
  EXPECT_DOUBLE_EQ(schedule.rate(4), 1.4);  // the peak x 7/10
  EXPECT_DOUBLE_EQ(schedule.rate(10), 0.2);
  EXPECT_EQ(schedule.rate(11), 0.0);
  EXPECT_EQ((LrSchedule{2.0, 0, LrDecay::kLinear, 10}.rate(1)), 2.0);
}

TEST(LrSchedule, CosineStartsAfterWarmupAtThePeak) {
  const LrSchedule schedule{2.0, 4, LrDecay::kCosine, 10};
  EXPECT_EQ(schedule.rate(1), 0.5);  // warmup alone
  EXPECT_EQ(schedule.rate(4), 2.0);
  EXPECT_EQ(schedule.rate(5), 2.0);                                 // progress 0 of 6
  EXPECT_DOUBLE_EQ(schedule.rate(7), 1.5);                          // progress 1/3: (1 + cos(pi/3)) / 2
  EXPECT_DOUBLE_EQ(schedule.rate(10), 1.0 - std::sqrt(3.0) / 2.0);  // progress 5/6
  EXPECT_DOUBLE_EQ(schedule.rate(11), 0.0);                         // past the end: clamped
  EXPECT_EQ((LrSchedule{2.0, 0, LrDecay::kCosine, 10}.rate(1)), 2.0);
}

TEST(LrSchedule, DecayNamesParseAndABadOneNamesTheKey) {
  for (LrDecay decay : {LrDecay::kConstant, LrDecay::kLinear, LrDecay::kCosine})
    EXPECT_EQ(value_named(kLrDecayNames, name_of(kLrDecayNames, decay), "lr_decay"), decay);
  const std::string message =
      testing::error_message([] { value_named(kLrDecayNames, "step", "config key 'train.lr_decay'"); });
  EXPECT_NE(message.find("config key 'train.lr_decay': 'step' is not one of constant, linear, cosine"),
            std::string::npos)
      << message;
}

struct Model {
  Tensor params = testing::random_tensor({kNumel}, 1);
  Tensor grads = testing::random_tensor({kNumel}, 2);
};

// A fresh scaler's state at scale 1, as a device tensor.
Tensor unit_scale_state() { return step_state_tensor(DynamicLossScaler::fixed().step_state(), Device::CPU); }

std::vector<ops::AdamWStep> three_steps() {
  std::vector<ops::AdamWStep> steps(3);
  for (int i = 0; i < 3; ++i) {
    steps[i].lr = 1e-2f / static_cast<float>(i + 1);
    steps[i].weight_decay = 0.1f;
    steps[i].step = i + 1;
    steps[i].grad_scale = 0.5f;
  }
  return steps;
}

TEST(AdamW, StepRunsTheAdamWAndEmaOps) {
  Model model, reference;
  AdamW optimizer(model.params, model.grads, {0.9, 0.99});
  const Tensor m = Tensor::zeros({kNumel}), v = Tensor::zeros({kNumel});
  std::vector<Tensor> emas = {testing::random_tensor({kNumel}, 1), testing::random_tensor({kNumel}, 1)};
  for (const ops::AdamWStep& step : three_steps()) {
    optimizer.step(step);
    ops::adamw_update(reference.params, reference.grads, m, v, step);
    ops::ema_update(emas[0], reference.params, 0.9f);
    ops::ema_update(emas[1], reference.params, 0.99f);
  }
  EXPECT_EQ(to_vector(model.params), to_vector(reference.params));
  EXPECT_EQ(to_vector(optimizer.m()), to_vector(m));
  EXPECT_EQ(to_vector(optimizer.v()), to_vector(v));
  ASSERT_EQ(optimizer.emas().size(), 2u);
  EXPECT_EQ(optimizer.emas()[1].first, 0.99);
  EXPECT_EQ(to_vector(optimizer.emas()[0].second), to_vector(emas[0]));
  EXPECT_EQ(to_vector(optimizer.emas()[1].second), to_vector(emas[1]));
}

TEST(AdamW, ShardedOnOneRankMatchesTheWholeState) {
  SingleProcessCommunicator single;
  Model whole_model, sharded_model;
  AdamW whole(whole_model.params, whole_model.grads, {0.999});
  AdamW sharded(sharded_model.params, sharded_model.grads, {0.999}, &single);
  EXPECT_FALSE(whole.sharded());
  EXPECT_FALSE(whole.shard_grads().defined());
  EXPECT_EQ(whole.shards().ranks, 1);
  EXPECT_EQ(whole.shards().numel, kNumel);
  ASSERT_TRUE(sharded.sharded());
  ASSERT_EQ(sharded.shard_grads().numel(), kNumel);
  // The gradient reducer's part: this rank's summed gradients in the shard buffer.
  copy(sharded_model.grads, sharded.shard_grads());
  const StepRule rule = DynamicLossScaler::fixed().rule(1.0);
  const Tensor whole_state = unit_scale_state(), sharded_state = unit_scale_state();
  for (const ops::AdamWStep& step : three_steps()) {
    whole.decide(rule, whole_state);
    sharded.decide(rule, sharded_state);
    EXPECT_EQ(read_step_state(sharded_state).grad_norm, std::sqrt(ops::sum_of_squares(whole_model.grads)));
    EXPECT_EQ(to_vector(sharded_state), to_vector(whole_state));
    whole.step(step, whole_state);
    sharded.step(step, sharded_state);
  }
  EXPECT_EQ(to_vector(sharded_model.params), to_vector(whole_model.params));
  EXPECT_EQ(to_vector(sharded.m()), to_vector(whole.m()));
  EXPECT_EQ(to_vector(sharded.v()), to_vector(whole.v()));
  EXPECT_EQ(to_vector(sharded.emas()[0].second), to_vector(whole.emas()[0].second));
}

// The decision on the device is the host's decide_step, and the update reads its factor in place of grad_scale.
TEST(AdamW, DecisionOnTheDeviceSetsTheGradientFactor) {
  Model model, reference;
  AdamW optimizer(model.params, model.grads, {0.9});
  AdamW host_decided(reference.params, reference.grads, {0.9});
  DynamicLossScaler scaler = DynamicLossScaler::fixed();
  const Tensor state = unit_scale_state();
  for (const ops::AdamWStep& step : three_steps()) {
    optimizer.decide(scaler.rule(1.0), state);
    const StepDecision decision = decide_step(scaler, ops::sum_of_squares(reference.grads), 1.0);
    ASSERT_TRUE(decision.apply);
    ASSERT_LT(decision.grad_scale, 1.0f);  // the random gradients' norm is above 1: clipped
    EXPECT_EQ(read_step_state(state).grad_factor, decision.grad_scale);
    ops::AdamWStep clipped = step;
    clipped.grad_scale = decision.grad_scale;
    optimizer.step(step, state);
    host_decided.step(clipped);
  }
  EXPECT_EQ(to_vector(model.params), to_vector(reference.params));
  EXPECT_EQ(to_vector(optimizer.m()), to_vector(host_decided.m()));
  EXPECT_EQ(to_vector(optimizer.v()), to_vector(host_decided.v()));
  EXPECT_EQ(to_vector(optimizer.emas()[0].second), to_vector(host_decided.emas()[0].second));
}

// A step whose gradients are not finite leaves the parameters, the moments and the EMA as they were.
TEST(AdamW, SkippedDecisionLeavesTheStateAlone) {
  Model model;
  AdamW optimizer(model.params, model.grads, {0.9});
  const Tensor state = unit_scale_state();
  optimizer.step(three_steps()[0], state);  // some moments to keep
  const std::vector<float> params = to_vector(model.params), m = to_vector(optimizer.m()), v = to_vector(optimizer.v()),
                           ema = to_vector(optimizer.emas()[0].second);
  model.grads.f32()[7] = INFINITY;
  optimizer.decide(DynamicLossScaler::fixed().rule(1.0), state);
  const StepState decided = read_step_state(state);
  EXPECT_EQ(decided.skip, 1);
  EXPECT_EQ(decided.skipped_steps, 1);
  optimizer.step(three_steps()[1], state);
  EXPECT_EQ(to_vector(model.params), params);
  EXPECT_EQ(to_vector(optimizer.m()), m);
  EXPECT_EQ(to_vector(optimizer.v()), v);
  EXPECT_EQ(to_vector(optimizer.emas()[0].second), ema);
}

TEST(AdamW, GatheredMomentsLoadIntoAFreshState) {
  SingleProcessCommunicator single;
  for (Communicator* shard_over : {static_cast<Communicator*>(nullptr), static_cast<Communicator*>(&single)}) {
    SCOPED_TRACE(shard_over ? "sharded" : "whole");
    Model trained_model, fresh_model;
    AdamW trained(trained_model.params, trained_model.grads, {0.9, 0.999}, shard_over);
    if (shard_over) copy(trained_model.grads, trained.shard_grads());
    for (const ops::AdamWStep& step : three_steps()) trained.step(step);
    const AdamW::Moments moments = trained.gather_moments();
    EXPECT_EQ(to_vector(moments.m), to_vector(trained.m()));
    EXPECT_EQ(to_vector(moments.v), to_vector(trained.v()));

    AdamW fresh(fresh_model.params, fresh_model.grads, {0.9, 0.999}, shard_over);
    fresh.load(moments, trained.emas());
    EXPECT_EQ(to_vector(fresh.m()), to_vector(trained.m()));
    EXPECT_EQ(to_vector(fresh.v()), to_vector(trained.v()));
    for (size_t i = 0; i < 2; ++i) EXPECT_EQ(to_vector(fresh.emas()[i].second), to_vector(trained.emas()[i].second));
    // Loading a state's own buffers leaves it as it is.
    fresh.load(fresh.gather_moments(), fresh.emas());
    EXPECT_EQ(to_vector(fresh.m()), to_vector(trained.m()));
  }
}

TEST(AdamW, ResetEmasSetsEveryBuffer) {
  Model model;
  AdamW optimizer(model.params, model.grads, {0.9, 0.99});
  const Tensor weights = testing::random_tensor({kNumel}, 3);
  optimizer.reset_emas(weights);
  for (const auto& [rate, buffer] : optimizer.emas()) EXPECT_EQ(to_vector(buffer), to_vector(weights));
}

}  // namespace
}  // namespace diffuse
