// The mixed-precision policy and the dynamic loss scaler, on the CPU: the
// scaler's rules, the step decision (unscaling and clipping), and a forced
// overflow in a real backward pass whose step must be skipped, leaving the
// weights and the optimiser state untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/matmul_precision.h"
#include "core/ops.h"
#include "optim/loss_scaler.h"
#include "run/precision.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

LossScalerOptions small_interval() {
  LossScalerOptions options;
  options.initial_scale = 1024.0;
  options.growth_interval = 3;
  return options;
}

TEST(LossScaler, HalvesAndSkipsOnOverflow) {
  DynamicLossScaler scaler(small_interval());
  EXPECT_EQ(scaler.scale(), 1024.0f);
  EXPECT_FALSE(scaler.update(std::numeric_limits<double>::infinity()));
  EXPECT_EQ(scaler.scale(), 512.0f);
  EXPECT_FALSE(scaler.update(std::nan("")));  // NaN is an overflow too
  EXPECT_EQ(scaler.scale(), 256.0f);
  EXPECT_EQ(scaler.skipped_steps(), 2);
  EXPECT_EQ(scaler.consecutive_skips(), 2);
  EXPECT_TRUE(scaler.update(1.0));
  EXPECT_EQ(scaler.consecutive_skips(), 0);
}

TEST(LossScaler, GrowsAfterGrowthIntervalGoodSteps) {
  DynamicLossScaler scaler(small_interval());
  EXPECT_TRUE(scaler.update(1.0));
  EXPECT_TRUE(scaler.update(1.0));
  EXPECT_EQ(scaler.scale(), 1024.0f);
  EXPECT_TRUE(scaler.update(1.0));
  EXPECT_EQ(scaler.scale(), 2048.0f);
  EXPECT_EQ(scaler.good_steps(), 0);
}

TEST(LossScaler, OverflowRestartsTheGoodStepCount) {
  DynamicLossScaler scaler(small_interval());
  scaler.update(1.0);
  scaler.update(1.0);
  scaler.update(std::numeric_limits<double>::infinity());
  EXPECT_EQ(scaler.scale(), 512.0f);
  scaler.update(1.0);
  scaler.update(1.0);
  EXPECT_EQ(scaler.scale(), 512.0f);
  scaler.update(1.0);
  EXPECT_EQ(scaler.scale(), 1024.0f);
}

TEST(LossScaler, StaysWithinItsBounds) {
  LossScalerOptions options = small_interval();
  options.min_scale = 256.0;
  options.max_scale = 2048.0;
  DynamicLossScaler scaler(options);
  for (int i = 0; i < 5; ++i) scaler.update(std::numeric_limits<double>::infinity());
  EXPECT_EQ(scaler.scale(), 256.0f);
  for (int i = 0; i < 30; ++i) scaler.update(1.0);
  EXPECT_EQ(scaler.scale(), 2048.0f);
  options.initial_scale = 4096.0;
  EXPECT_THROW(DynamicLossScaler{options}, Error);
}

TEST(LossScaler, FixedScalerKeepsScaleOneButSkipsNonFiniteSteps) {
  DynamicLossScaler scaler = DynamicLossScaler::fixed();
  EXPECT_FALSE(scaler.dynamic());
  EXPECT_EQ(scaler.scale(), 1.0f);
  EXPECT_FALSE(scaler.update(std::numeric_limits<double>::infinity()));
  EXPECT_EQ(scaler.scale(), 1.0f);
  for (int i = 0; i < 5000; ++i) scaler.update(1.0);
  EXPECT_EQ(scaler.scale(), 1.0f);
}

TEST(LossScaler, StateRoundTrips) {
  DynamicLossScaler scaler(small_interval());
  scaler.update(std::numeric_limits<double>::infinity());
  scaler.update(1.0);
  DynamicLossScaler resumed(small_interval());
  resumed.restore(scaler.state());
  EXPECT_EQ(resumed.scale(), 512.0f);
  EXPECT_EQ(resumed.good_steps(), 1);
  EXPECT_EQ(resumed.skipped_steps(), 1);
}

TEST(StepDecision, UnscalesTheNormAndClipsIt) {
  DynamicLossScaler scaler(small_interval());
  // Unscaled gradient norm 2, carried at scale 1024.
  const double scaled_squares = std::pow(2.0 * 1024.0, 2.0);
  const StepDecision clipped = decide_step(scaler, scaled_squares, 1.0);
  EXPECT_TRUE(clipped.apply);
  EXPECT_DOUBLE_EQ(clipped.grad_norm, 2.0);
  EXPECT_FLOAT_EQ(clipped.grad_scale, 0.5f / 1024.0f);
  const StepDecision unclipped = decide_step(scaler, scaled_squares, 0.0);
  EXPECT_FLOAT_EQ(unclipped.grad_scale, 1.0f / 1024.0f);
  const StepDecision overflowed = decide_step(scaler, std::numeric_limits<double>::infinity(), 1.0);
  EXPECT_FALSE(overflowed.apply);
  EXPECT_FALSE(std::isfinite(overflowed.grad_norm));
}

// The device's decision (ops::decide_step, here on the CPU backend) against the host's decide_step, step by step
// through finite, clipped, overflowing (inf and NaN) and growing steps: the same state to the bit.
TEST(StepDecision, TheOpOnTheDeviceIsTheHostsDecision) {
  DynamicLossScaler host(small_interval()), initial(small_interval());
  const Tensor state = step_state_tensor(initial.step_state(), Device::CPU);
  const double inf = std::numeric_limits<double>::infinity();
  const double scale2 = 1024.0 * 1024.0;  // the squares of unit gradients at the initial scale
  for (double squares : {0.25 * scale2, 9.0 * scale2, inf, std::nan(""), 0.01, 3.0, 3.0, 3.0, 1e30, 0.0}) {
    SCOPED_TRACE(squares);
    // Two partial sums (two shards) that add up to `squares` exactly.
    const double halves[2] = {squares / 2, squares / 2};
    const Tensor partials = Tensor::empty({4});
    std::memcpy(partials.raw(), halves, sizeof(halves));
    ops::decide_step(partials, host.rule(1.0), state);
    const StepDecision expected = decide_step(host, squares, 1.0);
    const StepState device = read_step_state(state), wanted = host.step_state();
    EXPECT_EQ(device.skip == 0, expected.apply);
    EXPECT_EQ(device.grad_factor, expected.grad_scale);
    EXPECT_TRUE(device.grad_norm == expected.grad_norm ||
                (std::isnan(device.grad_norm) && std::isnan(wanted.grad_norm)));
    EXPECT_EQ(device.scale, wanted.scale);
    EXPECT_EQ(device.good_steps, wanted.good_steps);
    EXPECT_EQ(device.skipped_steps, wanted.skipped_steps);
    EXPECT_EQ(device.consecutive_skips, wanted.consecutive_skips);
  }
  // The sequence went through every branch: two skips that halve the scale, growth after three good steps in a
  // row (twice), clipping.
  EXPECT_EQ(host.skipped_steps(), 2);
  EXPECT_EQ(host.scale(), 1024.0f);
}

// A linear model y = x W^T + b with a weighted MSE loss, its parameters in one
// flat buffer (as ParameterStore keeps them), trained by AdamW through
// decide_step: the loop the trainer runs.
class ScaledTraining {
 public:
  ScaledTraining()
      : params_(testing::random_tensor({kOut * kIn + kOut}, 1)),
        grads_(Tensor::zeros({kOut * kIn + kOut})),
        m_(Tensor::zeros({kOut * kIn + kOut})),
        v_(Tensor::zeros({kOut * kIn + kOut})),
        x_(testing::random_tensor({kBatch, kIn}, 2)),
        target_(testing::random_tensor({kBatch, kOut}, 3, -8.0f, 8.0f)),
        weights_(from_vector(std::vector<float>(kBatch, 1.0f), {kBatch})) {}

  // Backward at loss scale `scale` into grads(); with `fp16_gradients` the
  // gradients are rounded through fp16, as an fp16 backward would store them.
  void backward(float scale, bool fp16_gradients) {
    const Tensor y = Tensor::empty({kBatch, kOut}), dy = Tensor::empty({kBatch, kOut});
    ops::linear_forward(x_, weight(params_), bias(params_), y);
    ops::mse_loss_backward(y, target_, weights_, scale / kBatch, dy);
    std::fill(grads_.f32(), grads_.f32() + grads_.numel(), 0.0f);
    ops::linear_backward(x_, weight(params_), dy, Tensor(), weight(grads_), bias(grads_));
    if (fp16_gradients) {
      Tensor half = Tensor::empty(grads_.shape(), DType::F16);
      ops::cast(grads_, half);
      ops::cast(half, grads_);
    }
  }

  // One trainer step; returns whether it was applied.
  bool step(DynamicLossScaler& scaler, bool fp16_gradients) {
    backward(scaler.scale(), fp16_gradients);
    const StepDecision decision = decide_step(scaler, ops::sum_of_squares(grads_), 0.0);
    if (!decision.apply) return false;
    ops::AdamWStep adam;
    adam.lr = 1e-2f;
    adam.grad_scale = decision.grad_scale;
    ops::adamw_update(params_, grads_, m_, v_, adam);
    return true;
  }

  const Tensor& params() const { return params_; }
  const Tensor& grads() const { return grads_; }
  std::vector<float> state() const {
    std::vector<float> all = to_vector(params_);
    for (const Tensor* t : {&m_, &v_})
      for (float value : to_vector(*t)) all.push_back(value);
    return all;
  }

 private:
  static constexpr int64_t kBatch = 4, kIn = 8, kOut = 3;
  static Tensor weight(const Tensor& flat) { return flat.slice(0, kOut * kIn).reshape({kOut, kIn}); }
  static Tensor bias(const Tensor& flat) { return flat.slice(kOut * kIn, kOut * kIn + kOut); }

  Tensor params_, grads_, m_, v_, x_, target_, weights_;
};

// A scale so large that the fp32 gradients overflow: the step is skipped,
// nothing changes, the scale halves; once the gradients fit, the step applied
// is bit-identical to unscaled training (power-of-two scales are exact).
TEST(LossScaling, OverflowingStepIsSkippedAndLeavesTheStateAlone) {
  LossScalerOptions options;
  options.initial_scale = std::ldexp(1.0, 127);
  options.max_scale = options.initial_scale;
  DynamicLossScaler scaler(options);
  ScaledTraining scaled;
  const std::vector<float> before = scaled.state();
  EXPECT_FALSE(scaled.step(scaler, false));
  EXPECT_FALSE(std::isfinite(ops::sum_of_squares(scaled.grads())));
  EXPECT_EQ(scaled.state(), before) << "a skipped step must not touch weights or moments";
  EXPECT_EQ(scaler.scale(), static_cast<float>(std::ldexp(1.0, 126)));
  int skipped = 1;
  while (!scaled.step(scaler, false)) ASSERT_LT(++skipped, 100);
  EXPECT_EQ(scaler.skipped_steps(), skipped);

  ScaledTraining plain;
  DynamicLossScaler unit = DynamicLossScaler::fixed();
  ASSERT_TRUE(plain.step(unit, false));
  EXPECT_EQ(to_vector(scaled.params()), to_vector(plain.params()));
}

// fp16 gradients: at 2^16 the largest ones pass fp16's 65504 and become inf;
// the scaler backs off to the largest power of two at which they fit.
TEST(LossScaling, Fp16GradientOverflowBacksOffUntilTheyFit) {
  DynamicLossScaler scaler;  // starts at 2^16
  ScaledTraining model;
  model.backward(1.0f, false);
  double largest = 0.0;
  for (float g : to_vector(model.grads())) largest = std::max(largest, static_cast<double>(std::fabs(g)));
  ASSERT_GT(largest * 65536.0, 65520.0) << "the test needs gradients that overflow fp16 at 2^16";
  while (!model.step(scaler, true)) ASSERT_GT(scaler.scale(), 1.0f);
  // Applied at scale S: the gradients fitted at S, and had not at 2S (the scale it came down from).
  const double applied = scaler.scale();
  EXPECT_LT(largest * applied, 65520.0);
  EXPECT_GE(largest * applied * 2.0, 65504.0);
  EXPECT_GT(scaler.skipped_steps(), 0);
}

TEST(PrecisionPolicy, NamesAndDevices) {
  EXPECT_EQ(value_named(kPrecisionNames, "bf16", "train.precision"), Precision::kBf16);
  EXPECT_STREQ(precision_name(Precision::kFp16), "fp16");
  try {
    value_named(kPrecisionNames, "fp8", "train.precision");
    FAIL() << "unknown precisions must be rejected";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'fp8'"), std::string::npos) << error.what();
  }
  const PrecisionPolicy cpu = precision_policy(Precision::kBf16, Device::CPU);
  EXPECT_EQ(cpu.requested, Precision::kBf16);
  EXPECT_EQ(cpu.compute, cpu_multiplies_natively(DType::BF16) ? DType::BF16 : DType::F32)
      << "the CPU computes in bf16 where it has bf16 instructions, else in fp32";
  EXPECT_FALSE(cpu.loss_scaling);
  const std::string cpu_fp16 = testing::error_message([] { precision_policy(Precision::kFp16, Device::CPU); });
  EXPECT_NE(cpu_fp16.find("train.precision fp16"), std::string::npos) << "fp16 products are GPU only: " << cpu_fp16;
  const PrecisionPolicy bf16 = precision_policy(Precision::kBf16, Device::CUDA);
  EXPECT_EQ(bf16.compute, DType::BF16);
  EXPECT_FALSE(bf16.loss_scaling);
  const PrecisionPolicy fp16 = precision_policy(Precision::kFp16, Device::CUDA);
  EXPECT_EQ(fp16.compute, DType::F16);
  EXPECT_TRUE(fp16.loss_scaling);
  EXPECT_NO_THROW(apply_precision(precision_policy(Precision::kFp32, Device::CPU)));
}

}  // namespace
}  // namespace diffuse
