// Weighted MSE loss: per-sample forward and the gradient of loss_scale * sum
// against naive double loops and finite differences.
#include <gtest/gtest.h>

#include <vector>

#include "core/ops.h"
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

}  // namespace
}  // namespace diffuse
