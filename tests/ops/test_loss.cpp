// Weighted MSE and pseudo-Huber losses: per-sample forward and the gradient of loss_scale * sum
// against naive double loops and finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "core/error.h"
#include "core/ops.h"
#include "core/step_state.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

using testing::expect_close;
using testing::random_tensor;

const std::vector<Shape> kShapes = {{1, 1}, {1, 3, 5, 2}, {4, 7}, {3, 5, 5, 3}, {2, 32, 32, 3}, {5}};

TEST(MseLoss, ForwardMatchesNaiveLoop) {
  uint64_t seed = 1;
  for (const Shape& shape : kShapes) {
    const int64_t n = shape[0], elements = shape_numel(shape) / n;
    const Tensor pred = random_tensor(shape, seed++), target = random_tensor(shape, seed++);
    const Tensor weights = random_tensor({n}, seed++, 0.0f, 2.0f);
    const Tensor per_sample = Tensor::empty({n});
    ops::mse_loss_forward(pred, target, weights, per_sample);
    const std::vector<float> p = to_vector(pred), q = to_vector(target), w = to_vector(weights);
    std::vector<float> expected(n);
    for (int64_t s = 0; s < n; ++s) {
      double total = 0.0;
      for (int64_t i = s * elements; i < (s + 1) * elements; ++i)
        total += (double(p[i]) - q[i]) * (double(p[i]) - q[i]);
      expected[s] = static_cast<float>(w[s] * total / elements);
    }
    // Both accumulate in double and round once to f32: a few ulps at most.
    expect_close(per_sample, from_vector(expected, {n}), 1e-6, 1e-12, "mse per_sample " + shape_string(shape));
  }
}

TEST(MseLoss, BackwardMatchesNaiveLoop) {
  uint64_t seed = 50;
  for (const Shape& shape : kShapes) {
    const int64_t n = shape[0], elements = shape_numel(shape) / n;
    const Tensor pred = random_tensor(shape, seed++), target = random_tensor(shape, seed++);
    const Tensor weights = random_tensor({n}, seed++, 0.0f, 2.0f);
    const Tensor dpred = Tensor::empty(shape);
    const float loss_scale = 1024.0f;  // a typical fp16 loss scale
    ops::mse_loss_backward(pred, target, weights, loss_scale, dpred);
    const std::vector<float> p = to_vector(pred), q = to_vector(target), w = to_vector(weights);
    std::vector<float> expected(p.size());
    for (int64_t i = 0; i < static_cast<int64_t>(p.size()); ++i)
      expected[i] = static_cast<float>(loss_scale * w[i / elements] * 2.0 * (double(p[i]) - q[i]) / elements);
    // f32 coefficient times an f32 difference: two roundings.
    expect_close(dpred, from_vector(expected, shape), 1e-6, 1e-9, "mse dpred " + shape_string(shape));
  }
}

TEST(MseLoss, ZeroWeightGivesZeroLossAndGradient) {
  const Tensor pred = random_tensor({2, 6}, 7), target = random_tensor({2, 6}, 8);
  const Tensor weights = from_vector({0.0f, 1.0f}, {2});
  const Tensor per_sample = Tensor::empty({2}), dpred = Tensor::empty({2, 6});
  ops::mse_loss_forward(pred, target, weights, per_sample);
  ops::mse_loss_backward(pred, target, weights, 1.0f, dpred);
  EXPECT_EQ(to_vector(per_sample)[0], 0.0f);
  EXPECT_GT(to_vector(per_sample)[1], 0.0f);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(to_vector(dpred)[i], 0.0f);
}

TEST(MseLossGrad, Dpred) {
  for (const Shape& shape : std::vector<Shape>{{1, 3}, {3, 2, 2, 3}, {4, 5}}) {
    const int64_t n = shape[0];
    const Tensor pred = random_tensor(shape, 60), target = random_tensor(shape, 61);
    const Tensor weights = random_tensor({n}, 62, 0.5f, 2.0f);
    const float loss_scale = 8.0f;
    const Tensor dpred = Tensor::empty(shape), per_sample = Tensor::empty({n});
    ops::mse_loss_backward(pred, target, weights, loss_scale, dpred);
    // The loss is quadratic, so the central difference has no truncation error; only f32 rounding remains.
    testing::expect_gradient("mse dpred " + shape_string(shape), pred, dpred, [&] {
      ops::mse_loss_forward(pred, target, weights, per_sample);
      double total = 0.0;
      for (float value : to_vector(per_sample)) total += value;
      return loss_scale * total;
    });
  }
}

// The loss scale a step state holds, read by the op, times the factor: bit for bit the same float passed from the host.
void expect_state_scale_matches_host_scale(
    const std::function<void(const ops::LossScale& loss_scale, const Tensor& dpred)>& backward) {
  for (const double scale : {1.0, 65536.0, 3.0}) {
    StepState state;
    state.scale = scale;
    const float factor = 1.0f / 48;
    const Tensor from_state = Tensor::empty({4, 3, 3, 2}), from_host = Tensor::empty({4, 3, 3, 2});
    backward(ops::LossScale(factor, step_state_tensor(state, Device::CPU)), from_state);
    backward(ops::LossScale(factor * static_cast<float>(scale)), from_host);
    EXPECT_EQ(to_vector(from_state), to_vector(from_host)) << "scale " << scale;
  }
}

TEST(MseLoss, BackwardReadsTheLossScaleFromAStepState) {
  const Tensor pred = random_tensor({4, 3, 3, 2}, 70), target = random_tensor({4, 3, 3, 2}, 71);
  const Tensor weights = random_tensor({4}, 72, 0.5f, 2.0f);
  expect_state_scale_matches_host_scale([&](const ops::LossScale& loss_scale, const Tensor& dpred) {
    ops::mse_loss_backward(pred, target, weights, loss_scale, dpred);
  });
}

// The pseudo-Huber distance sqrt(|p - q|^2 + c^2) - c per sample, in double.
std::vector<float> naive_pseudo_huber(const Tensor& pred, const Tensor& target, const Tensor& weights, float c) {
  const int64_t n = pred.dim(0), elements = pred.numel() / n;
  const std::vector<float> p = to_vector(pred), q = to_vector(target), w = to_vector(weights);
  std::vector<float> expected(n);
  for (int64_t s = 0; s < n; ++s) {
    double total = 0.0;
    for (int64_t i = s * elements; i < (s + 1) * elements; ++i) total += (double(p[i]) - q[i]) * (double(p[i]) - q[i]);
    expected[s] = static_cast<float>(w[s] * (std::sqrt(total + double(c) * c) - c));
  }
  return expected;
}

TEST(PseudoHuberLoss, ForwardMatchesNaiveLoop) {
  uint64_t seed = 200;
  for (const Shape& shape : kShapes) {
    const int64_t n = shape[0];
    const Tensor pred = random_tensor(shape, seed++), target = random_tensor(shape, seed++);
    const Tensor weights = random_tensor({n}, seed++, 0.0f, 2.0f);
    const Tensor per_sample = Tensor::empty({n});
    const float c = 0.03f;
    ops::pseudo_huber_loss_forward(pred, target, weights, c, per_sample);
    expect_close(per_sample, from_vector(naive_pseudo_huber(pred, target, weights, c), {n}), 1e-6, 1e-12,
                 "pseudo-Huber per_sample " + shape_string(shape));
  }
}

TEST(PseudoHuberLoss, IsQuadraticNearZeroAndLinearFarAway) {
  // sqrt(d^2 + c^2) - c = d^2 / (2c) + O(d^4 / c^3): quadratic near 0, like the MSE, linear far away.
  const Tensor pred = from_vector({1e-3f, -2e-3f}, {1, 2}), target = from_vector({0.0f, 0.0f}, {1, 2});
  const Tensor weights = from_vector({1.0f}, {1}), per_sample = Tensor::empty({1});
  ops::pseudo_huber_loss_forward(pred, target, weights, 1.0f, per_sample);
  EXPECT_NEAR(to_vector(per_sample)[0], 5e-6 / 2.0, 1e-10);
  ops::pseudo_huber_loss_forward(from_vector({300.0f, 400.0f}, {1, 2}), target, weights, 1e-3f, per_sample);
  EXPECT_NEAR(to_vector(per_sample)[0], 500.0 - 1e-3, 1e-4);
}

TEST(PseudoHuberLoss, BackwardReadsTheLossScaleFromAStepState) {
  const Tensor pred = random_tensor({4, 3, 3, 2}, 270), target = random_tensor({4, 3, 3, 2}, 271);
  const Tensor weights = random_tensor({4}, 272, 0.5f, 2.0f);
  expect_state_scale_matches_host_scale([&](const ops::LossScale& loss_scale, const Tensor& dpred) {
    ops::pseudo_huber_loss_backward(pred, target, weights, 0.03f, loss_scale, dpred);
  });
}

TEST(PseudoHuberLossGrad, Dpred) {
  for (const Shape& shape : std::vector<Shape>{{1, 3}, {3, 2, 2, 3}, {4, 5}}) {
    const int64_t n = shape[0];
    const Tensor pred = random_tensor(shape, 260), target = random_tensor(shape, 261);
    const Tensor weights = random_tensor({n}, 262, 0.5f, 2.0f);
    const float loss_scale = 8.0f, c = 0.5f;
    const Tensor dpred = Tensor::empty(shape), per_sample = Tensor::empty({n});
    ops::pseudo_huber_loss_backward(pred, target, weights, c, loss_scale, dpred);
    testing::expect_gradient("pseudo-Huber dpred " + shape_string(shape), pred, dpred, [&] {
      ops::pseudo_huber_loss_forward(pred, target, weights, c, per_sample);
      double total = 0.0;
      for (float value : to_vector(per_sample)) total += value;
      return loss_scale * total;
    });
  }
}

TEST(PseudoHuberLoss, RejectsANonPositiveC) {
  const Tensor pred = random_tensor({2, 3}, 1), per_sample = Tensor::empty({2});
  EXPECT_THROW(ops::pseudo_huber_loss_forward(pred, pred, from_vector({1.0f, 1.0f}, {2}), 0.0f, per_sample), Error);
}

}  // namespace
}  // namespace diffuse
