// Resampling and channel plumbing (core/cpu/resample.cpp): nearest 2x
// upsampling and channel concat/split, forward against naive loops and
// backward against central finite differences.
#include <gtest/gtest.h>

#include <vector>

#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

using testing::expect_close;
using testing::expect_gradient;
using testing::project;
using testing::random_tensor;

// Odd sizes, batch 1, single pixels and channels, and one large enough for the threaded path.
const Shape kShapes[] = {{1, 5, 5, 6}, {2, 7, 3, 5}, {3, 1, 1, 4}, {2, 4, 4, 64}, {1, 3, 6, 1}, {2, 16, 16, 64}};

// ---- upsample_nearest2x -----------------------------------------------------------------------------

TEST(UpsampleForward, MatchesNaiveLoop) {
  uint64_t seed = 1;
  for (const Shape& shape : kShapes) {
    const int64_t n = shape[0], h = shape[1], w = shape[2], c = shape[3];
    const Tensor x = random_tensor(shape, seed++);
    const Tensor y = Tensor::empty({n, 2 * h, 2 * w, c});
    ops::upsample_nearest2x_forward(x, y);
    std::vector<float> expected(static_cast<size_t>(y.numel()));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = 0; r < 2 * h; ++r)
        for (int64_t col = 0; col < 2 * w; ++col)
          for (int64_t ch = 0; ch < c; ++ch)
            expected[static_cast<size_t>(((i * 2 * h + r) * 2 * w + col) * c + ch)] =
                x.f32()[((i * h + r / 2) * w + col / 2) * c + ch];
    // Pure copies: exact.
    expect_close(y, from_vector(expected, y.shape()), 0.0, 0.0, "upsample " + shape_string(shape));
  }
}

TEST(UpsampleBackward, SumsTheFourChildren) {
  uint64_t seed = 10;
  for (const Shape& shape : kShapes) {
    const int64_t n = shape[0], h = shape[1], w = shape[2], c = shape[3];
    const Tensor dy = random_tensor({n, 2 * h, 2 * w, c}, seed++);
    const Tensor dx = random_tensor(shape, seed++);  // garbage: dx is written
    ops::upsample_nearest2x_backward(dy, dx);
    std::vector<float> expected(static_cast<size_t>(dx.numel()), 0.0f);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = 0; r < h; ++r)
        for (int64_t col = 0; col < w; ++col)
          for (int64_t ch = 0; ch < c; ++ch) {
            double sum = 0.0;
            for (int64_t dr = 0; dr < 2; ++dr)
              for (int64_t dc = 0; dc < 2; ++dc)
                sum += dy.f32()[((i * 2 * h + 2 * r + dr) * 2 * w + 2 * col + dc) * c + ch];
            expected[static_cast<size_t>(((i * h + r) * w + col) * c + ch)] = static_cast<float>(sum);
          }
    // Three fp32 additions of O(1) values against a double sum: a few ulps of 4; atol for cancelling sums.
    expect_close(dx, from_vector(expected, shape), 1e-6, 1e-6, "upsample backward " + shape_string(shape));
  }
}

TEST(UpsampleGrad, FiniteDifferences) {
  const Shape shape{2, 3, 5, 6};
  const Tensor x = random_tensor(shape, 20), w = random_tensor({2, 6, 10, 6}, 21);
  const Tensor y = Tensor::empty(w.shape()), dx = Tensor::empty(shape);
  ops::upsample_nearest2x_backward(w, dx);
  const auto loss = [&] {
    ops::upsample_nearest2x_forward(x, y);
    return project(y, w);
  };
  // Linear (a copy), so the quotient is exact up to the rounding of x +- step.
  expect_gradient("upsample dx", x, dx, loss);
}

// ---- concat_channels / split_channels -------------------------------------------------------------

std::vector<float> naive_concat(const Tensor& a, const Tensor& b) {
  const int64_t pixels = a.dim(0) * a.dim(1) * a.dim(2), ca = a.dim(3), cb = b.dim(3);
  std::vector<float> out;
  for (int64_t p = 0; p < pixels; ++p) {
    for (int64_t ch = 0; ch < ca; ++ch) out.push_back(a.f32()[p * ca + ch]);
    for (int64_t ch = 0; ch < cb; ++ch) out.push_back(b.f32()[p * cb + ch]);
  }
  return out;
}

TEST(ConcatForward, MatchesNaiveLoopAndSplitInvertsIt) {
  uint64_t seed = 30;
  for (const Shape& shape : kShapes) {
    for (const int64_t cb : {int64_t{1}, int64_t{3}, int64_t{32}}) {
      const Shape shape_b{shape[0], shape[1], shape[2], cb};
      const Shape shape_y{shape[0], shape[1], shape[2], shape[3] + cb};
      const Tensor a = random_tensor(shape, seed++), b = random_tensor(shape_b, seed++);
      const Tensor y = Tensor::empty(shape_y);
      ops::concat_channels(a, b, y);
      const std::string what = shape_string(shape) + " + " + shape_string(shape_b);
      // Pure copies: exact.
      expect_close(y, from_vector(naive_concat(a, b), shape_y), 0.0, 0.0, "concat " + what);
      const Tensor a2 = Tensor::empty(shape), b2 = Tensor::empty(shape_b);
      ops::split_channels(y, a2, b2);
      expect_close(a2, a, 0.0, 0.0, "split a " + what);
      expect_close(b2, b, 0.0, 0.0, "split b " + what);
    }
  }
}

TEST(SplitForward, EitherOutputMayBeUndefined) {
  const Tensor a = random_tensor({2, 3, 5, 4}, 40), b = random_tensor({2, 3, 5, 7}, 41);
  const Tensor y = Tensor::empty({2, 3, 5, 11});
  ops::concat_channels(a, b, y);
  const Tensor only_a = Tensor::empty(a.shape()), only_b = Tensor::empty(b.shape());
  ops::split_channels(y, only_a, Tensor());
  ops::split_channels(y, Tensor(), only_b);
  // Copies: exact.
  expect_close(only_a, a, 0.0, 0.0, "split a only");
  expect_close(only_b, b, 0.0, 0.0, "split b only");
}

TEST(ConcatGrad, FiniteDifferences) {
  const Tensor a = random_tensor({2, 3, 5, 4}, 50), b = random_tensor({2, 3, 5, 3}, 51);
  const Tensor w = random_tensor({2, 3, 5, 7}, 52), y = Tensor::empty(w.shape());
  const Tensor da = Tensor::empty(a.shape()), db = Tensor::empty(b.shape());
  ops::split_channels(w, da, db);  // concat's backward
  const auto loss = [&] {
    ops::concat_channels(a, b, y);
    return project(y, w);
  };
  // Linear (a copy): exact up to the rounding of the perturbed inputs.
  expect_gradient("concat da", a, da, loss);
  expect_gradient("concat db", b, db, loss);
}

TEST(SplitGrad, FiniteDifferences) {
  const Tensor y = random_tensor({2, 5, 3, 9}, 60);
  const Tensor wa = random_tensor({2, 5, 3, 2}, 61), wb = random_tensor({2, 5, 3, 7}, 62);
  const Tensor a = Tensor::empty(wa.shape()), b = Tensor::empty(wb.shape()), dy = Tensor::empty(y.shape());
  ops::concat_channels(wa, wb, dy);  // split's backward
  const auto loss = [&] {
    ops::split_channels(y, a, b);
    return project(a, wa) + project(b, wb);
  };
  // Linear (a copy): exact up to the rounding of the perturbed inputs.
  expect_gradient("split dy", y, dy, loss);
}

}  // namespace
}  // namespace diffuse
