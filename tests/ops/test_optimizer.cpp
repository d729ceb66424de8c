// AdamW, EMA and sum of squares on flat fp32 buffers, against scalar double
// references and closed forms (bias correction, decoupled weight decay), and
// the step decision they read from the device (its rule against the host's is
// tested in tests/optim/test_loss_scaler.cpp).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/ops.h"
#include "core/step_state.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

using testing::expect_close;
using testing::random_tensor;

// PyTorch's torch.optim.AdamW (single-tensor path) in double, one element.
struct ReferenceAdamW {
  double param, m = 0.0, v = 0.0;

  void step(double grad, const ops::AdamWStep& s) {
    const double g = grad * s.grad_scale;
    param *= 1.0 - double(s.lr) * s.weight_decay;
    m = s.beta1 * m + (1.0 - s.beta1) * g;
    v = s.beta2 * v + (1.0 - s.beta2) * g * g;
    const double bias1 = 1.0 - std::pow(double(s.beta1), double(s.step));
    const double bias2 = 1.0 - std::pow(double(s.beta2), double(s.step));
    param -= s.lr / bias1 * m / (std::sqrt(v) / std::sqrt(bias2) + s.eps);
  }
};

TEST(AdamW, MatchesScalarReferenceOverSteps) {
  for (const int64_t count : {1, 37, 4099}) {
    const Tensor params = random_tensor({count}, 1);
    const Tensor m = Tensor::zeros({count}), v = Tensor::zeros({count});
    std::vector<ReferenceAdamW> reference;
    for (float value : to_vector(params)) reference.push_back({value});
    ops::AdamWStep s;
    s.lr = 1e-2f;
    s.weight_decay = 0.1f;
    s.grad_scale = 0.25f;  // e.g. undoing a loss scale of 4
    for (int64_t step = 1; step <= 10; ++step) {
      s.step = step;
      const Tensor grads = random_tensor({count}, 100 + step, -4.0f, 4.0f);
      ops::adamw_update(params, grads, m, v, s);
      const std::vector<float> g = to_vector(grads);
      std::vector<float> p_ref, m_ref, v_ref;
      for (int64_t i = 0; i < count; ++i) {
        reference[i].step(g[i], s);
        p_ref.push_back(static_cast<float>(reference[i].param));
        m_ref.push_back(static_cast<float>(reference[i].m));
        v_ref.push_back(static_cast<float>(reference[i].v));
      }
      const std::string at = " count " + std::to_string(count) + " step " + std::to_string(step);
      // Moments: a few f32 roundings per step on values of order 1.
      expect_close(m, from_vector(m_ref, {count}), 1e-5, 1e-7, "m" + at);
      expect_close(v, from_vector(v_ref, {count}), 1e-5, 1e-9, "v" + at);
      // Params of order 1 drift by one f32 rounding per step (6e-8) plus lr times the update's relative error.
      expect_close(params, from_vector(p_ref, {count}), 0.0, 2e-6, "params" + at);
    }
  }
}

// With a constant gradient the bias-corrected moments are exactly g and g^2
// at every step, so each update is lr * g / (|g| + eps) = lr * sign(g).
TEST(AdamW, BiasCorrectionGivesSignStepsAtStepsOneAndTen) {
  const int64_t count = 9;
  const Tensor params = random_tensor({count}, 2);
  const Tensor grads = random_tensor({count}, 3, -2.0f, 2.0f);
  const Tensor m = Tensor::zeros({count}), v = Tensor::zeros({count});
  const std::vector<float> p0 = to_vector(params), g = to_vector(grads);
  ops::AdamWStep s;
  s.lr = 1e-3f;
  for (int64_t step = 1; step <= 10; ++step) {
    s.step = step;
    ops::adamw_update(params, grads, m, v, s);
    if (step != 1 && step != 10) continue;
    std::vector<float> expected;
    for (int64_t i = 0; i < count; ++i)
      expected.push_back(static_cast<float>(p0[i] - step * double(s.lr) * g[i] / (std::fabs(g[i]) + double(s.eps))));
    // Each step's update is lr to ~1e-6 relative (eps, f32 moments); params of order 1 round at 6e-8 per step.
    expect_close(params, from_vector(expected, {count}), 0.0, 1e-6, "sign steps at step " + std::to_string(step));
  }
}

TEST(AdamW, WeightDecayIsDecoupledFromTheGradient) {
  const int64_t count = 17;
  const Tensor params = random_tensor({count}, 4);
  const Tensor grads = Tensor::zeros({count}), m = Tensor::zeros({count}), v = Tensor::zeros({count});
  const std::vector<float> p0 = to_vector(params);
  ops::AdamWStep s;
  s.lr = 0.5f;
  s.weight_decay = 0.1f;
  ops::adamw_update(params, grads, m, v, s);
  // Zero gradient: moments stay 0 and the param only shrinks by (1 - lr wd), one f32 multiply.
  std::vector<float> expected;
  for (float value : p0) expected.push_back(static_cast<float>(value * (1.0 - 0.5 * 0.1)));
  expect_close(params, from_vector(expected, {count}), 1e-6, 0.0, "weight decay only");
  for (float value : to_vector(m)) EXPECT_EQ(value, 0.0f);
  for (float value : to_vector(v)) EXPECT_EQ(value, 0.0f);
}

TEST(AdamW, GradScaleUndoesAPowerOfTwoLossScale) {
  const int64_t count = 33;
  const Tensor grads = random_tensor({count}, 5);
  std::vector<float> scaled_values = to_vector(grads);
  for (float& value : scaled_values) value *= 65536.0f;
  const Tensor scaled = from_vector(scaled_values, {count});
  const Tensor a = random_tensor({count}, 6), b = random_tensor({count}, 6);
  const Tensor ma = Tensor::zeros({count}), va = Tensor::zeros({count});
  const Tensor mb = Tensor::zeros({count}), vb = Tensor::zeros({count});
  ops::AdamWStep s;
  s.weight_decay = 0.01f;
  ops::adamw_update(a, grads, ma, va, s);
  s.grad_scale = 1.0f / 65536.0f;
  ops::adamw_update(b, scaled, mb, vb, s);
  // Scaling by a power of two and back is exact, so the two runs agree bit for bit.
  expect_close(b, a, 0.0, 0.0, "params with grad_scale");
  expect_close(mb, ma, 0.0, 0.0, "m with grad_scale");
}

TEST(Ema, MatchesFormula) {
  for (const int64_t count : {1, 10, 1001}) {
    const Tensor ema = random_tensor({count}, 7), params = random_tensor({count}, 8);
    const std::vector<float> e0 = to_vector(ema), p = to_vector(params);
    const float decay = 0.999f;
    ops::ema_update(ema, params, decay);
    std::vector<float> expected;
    for (int64_t i = 0; i < count; ++i)
      expected.push_back(static_cast<float>(decay * double(e0[i]) + (1.0 - decay) * p[i]));
    // Values below 1: two f32 products and a sum (1 - decay is exact in f32 for decay in [0.5, 1]).
    expect_close(ema, from_vector(expected, {count}), 0.0, 3e-7, "ema " + std::to_string(count));
  }
}

TEST(Ema, DecayZeroCopiesAndDecayOneKeeps) {
  const Tensor ema = random_tensor({13}, 9), params = random_tensor({13}, 10);
  const std::vector<float> e0 = to_vector(ema);
  ops::ema_update(ema, params, 1.0f);
  expect_close(ema, from_vector(e0, {13}), 0.0, 0.0, "decay 1 keeps the average");
  ops::ema_update(ema, params, 0.0f);
  expect_close(ema, params, 0.0, 0.0, "decay 0 copies the params");
}

TEST(SumOfSquares, MatchesDoubleSum) {
  for (const int64_t count : {0, 1, 7, 100003}) {
    const Tensor x = random_tensor({count}, 11, -3.0f, 3.0f);
    double expected = 0.0;
    for (float value : to_vector(x)) expected += double(value) * value;
    // Double accumulation in another order: relative error ~ count * 1e-16.
    EXPECT_NEAR(ops::sum_of_squares(x), expected, 1e-10 * expected) << count;
  }
}

TEST(SumOfSquares, LargeFiniteValuesDoNotOverflow) {
  const Tensor x = from_vector({FLT_MAX, -FLT_MAX}, {2});
  EXPECT_EQ(ops::sum_of_squares(x), 2.0 * double(FLT_MAX) * double(FLT_MAX));
}

TEST(SumOfSquares, InfAndNanPropagate) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> values(5000, 0.5f);
  values[4321] = inf;
  EXPECT_EQ(ops::sum_of_squares(from_vector(values, {5000})), std::numeric_limits<double>::infinity());
  values[4321] = -inf;
  EXPECT_EQ(ops::sum_of_squares(from_vector(values, {5000})), std::numeric_limits<double>::infinity());
  values[17] = nan;
  EXPECT_TRUE(std::isnan(ops::sum_of_squares(from_vector(values, {5000}))));
  values[4321] = 1.0f;
  EXPECT_TRUE(std::isnan(ops::sum_of_squares(from_vector(values, {5000}))));
}

TEST(SumOfSquares, StaysOnTheDeviceAsADouble) {
  const Tensor x = random_tensor({1001}, 12, -3.0f, 3.0f), result = Tensor::empty({2});
  ops::sum_of_squares(x, result);
  double on_device = 0.0;
  std::memcpy(&on_device, result.raw(), sizeof(on_device));
  EXPECT_EQ(on_device, ops::sum_of_squares(x));
}

// A step state with this decision, as decide_step leaves it.
Tensor decision(float grad_factor, bool skip) {
  StepState state;
  state.grad_factor = grad_factor;
  state.skip = skip ? 1 : 0;
  return step_state_tensor(state, Device::CPU);
}

TEST(AdamW, DecisionOnTheDeviceReplacesGradScale) {
  const Tensor grads = random_tensor({100}, 13);
  const Tensor a = random_tensor({100}, 14), ma = Tensor::zeros({100}), va = Tensor::zeros({100});
  const Tensor b = random_tensor({100}, 14), mb = Tensor::zeros({100}), vb = Tensor::zeros({100});
  ops::AdamWStep s;
  s.grad_scale = 0.25f;
  ops::adamw_update(a, grads, ma, va, s);
  s.grad_scale = 1.0f;  // ignored: the decision says 0.25
  ops::adamw_update(b, grads, mb, vb, s, decision(0.25f, false));
  expect_close(b, a, 0.0, 0.0, "params");
  expect_close(mb, ma, 0.0, 0.0, "m");
  expect_close(vb, va, 0.0, 0.0, "v");
}

TEST(AdamW, SkippedDecisionLeavesEverything) {
  const Tensor grads = random_tensor({100}, 15), params = random_tensor({100}, 16);
  const Tensor m = random_tensor({100}, 17), v = random_tensor({100}, 18, 0.1f, 1.0f);
  const std::vector<float> p0 = to_vector(params), m0 = to_vector(m), v0 = to_vector(v);
  ops::adamw_update(params, grads, m, v, ops::AdamWStep{}, decision(1.0f, true));
  EXPECT_EQ(to_vector(params), p0);
  EXPECT_EQ(to_vector(m), m0);
  EXPECT_EQ(to_vector(v), v0);
}

TEST(Ema, SkippedDecisionKeepsTheAverage) {
  const Tensor ema = random_tensor({13}, 19), params = random_tensor({13}, 20);
  const std::vector<float> e0 = to_vector(ema);
  ops::ema_update(ema, params, 0.5f, decision(1.0f, true));
  EXPECT_EQ(to_vector(ema), e0);
  ops::ema_update(ema, params, 0.0f, decision(1.0f, false));
  EXPECT_EQ(to_vector(ema), to_vector(params));
}

}  // namespace
}  // namespace diffuse
