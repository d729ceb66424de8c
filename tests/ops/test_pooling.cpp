// Max, average (count_include_pad=False) and global average pooling: forward
// against direct loops, backward by central differences. Max-pool inputs are
// distinct values 0.01 apart, so the finite-difference step never changes
// which tap is the maximum.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "core/ops.h"
#include "core/philox.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

// Distinct values -1, -0.99, ... in a seeded order.
Tensor distinct_values(const Shape& shape, uint64_t seed) {
  Tensor tensor = Tensor::empty(shape);
  std::vector<int64_t> order(static_cast<size_t>(tensor.numel()));
  std::iota(order.begin(), order.end(), 0);
  const RandomStream stream{seed, 99, 0, 0};
  for (size_t i = order.size(); i > 1; --i) {
    const auto j = static_cast<size_t>(random_uniform(stream, i) * static_cast<float>(i)) % i;
    std::swap(order[i - 1], order[j]);
  }
  for (size_t i = 0; i < order.size(); ++i) tensor.f32()[i] = -1.0f + 0.01f * static_cast<float>(order[i]);
  return tensor;
}

Shape pooled_shape(const Shape& x, const ops::Pool2dWindow& w) {
  return {x[0], (x[1] + 2 * w.padding - w.kernel) / w.stride + 1, (x[2] + 2 * w.padding - w.kernel) / w.stride + 1,
          x[3]};
}

Tensor reference_pool(const Tensor& x, const ops::Pool2dWindow& w, bool max) {
  const Shape out = pooled_shape(x.shape(), w);
  Tensor y = Tensor::empty(out);
  const int64_t h = x.dim(1), width = x.dim(2), c = x.dim(3);
  for (int64_t n = 0; n < out[0]; ++n)
    for (int64_t oy = 0; oy < out[1]; ++oy)
      for (int64_t ox = 0; ox < out[2]; ++ox)
        for (int64_t ch = 0; ch < c; ++ch) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0.0;
          int taps = 0;
          for (int64_t ky = 0; ky < w.kernel; ++ky)
            for (int64_t kx = 0; kx < w.kernel; ++kx) {
              const int64_t iy = oy * w.stride - w.padding + ky, ix = ox * w.stride - w.padding + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= width) continue;
              const double v = x.f32()[((n * h + iy) * width + ix) * c + ch];
              best = std::max(best, v);
              sum += v;
              ++taps;
            }
          y.f32()[((n * out[1] + oy) * out[2] + ox) * c + ch] = static_cast<float>(max ? best : sum / taps);
        }
  return y;
}

const ops::Pool2dWindow kWindows[] = {{3, 2, 0}, {3, 1, 1}, {2, 2, 0}, {3, 2, 1}};

testing::GradCheck pool_check() {
  testing::GradCheck options;
  options.step = 1e-3;
  options.rtol = 1e-3;
  options.atol = 1e-4;
  return options;
}

// Max or average pooling of `x` over every window: forward against reference_pool (within `tolerance`,
// relative and absolute), backward by central differences of a random projection seeded by `seed`.
void check_pooling(bool max, const Tensor& x, double tolerance, uint64_t seed) {
  const auto forward = [max](const Tensor& input, const Tensor& output, const ops::Pool2dWindow& w) {
    if (max) {
      ops::max_pool2d_forward(input, output, w);
    } else {
      ops::avg_pool2d_forward(input, output, w);
    }
  };
  for (const ops::Pool2dWindow& w : kWindows) {
    const std::string name = concat(max ? "max" : "avg", " pool k", w.kernel, " s", w.stride, " p", w.padding);
    Tensor y = Tensor::empty(pooled_shape(x.shape(), w));
    forward(x, y, w);
    testing::expect_close(y, reference_pool(x, w, max), tolerance, tolerance, name);
    const Tensor projection = testing::random_tensor(y.shape(), seed);
    Tensor dx = Tensor::empty(x.shape());
    fill(dx, std::numeric_limits<float>::quiet_NaN());
    if (max) {
      ops::max_pool2d_backward(x, projection, dx, w);
    } else {
      ops::avg_pool2d_backward(projection, dx, w);
    }
    testing::expect_gradient(
        name, x, dx,
        [&] {
          forward(x, y, w);
          return testing::project(y, projection);
        },
        pool_check());
  }
}

TEST(MaxPool2d, ForwardAndGradient) { check_pooling(true, distinct_values({2, 7, 6, 3}, 11), 0.0, 12); }

TEST(AvgPool2d, ExcludesPaddingAndMatchesGradient) {
  check_pooling(false, testing::random_tensor({2, 7, 6, 3}, 21), 1e-6, 22);
  // A constant image stays constant at the borders: padding is not averaged in.
  Tensor ones = Tensor::empty({1, 4, 4, 2}), y = Tensor::empty({1, 4, 4, 2});
  fill(ones, 1.0f);
  ops::avg_pool2d_forward(ones, y, {3, 1, 1});
  for (float v : to_vector(y)) EXPECT_FLOAT_EQ(v, 1.0f);
}

TEST(GlobalAvgPool, ForwardAndGradient) {
  const Tensor x = testing::random_tensor({3, 5, 4, 6}, 31);
  Tensor y = Tensor::empty({3, 6});
  ops::global_avg_pool_forward(x, y);
  Tensor expected = Tensor::empty({3, 6});
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t c = 0; c < 6; ++c) {
      double sum = 0.0;
      for (int64_t p = 0; p < 20; ++p) sum += x.f32()[(n * 20 + p) * 6 + c];
      expected.f32()[n * 6 + c] = static_cast<float>(sum / 20.0);
    }
  testing::expect_close(y, expected, 1e-6, 1e-7, "global average pool");
  const Tensor projection = testing::random_tensor({3, 6}, 32);
  Tensor dx = Tensor::empty(x.shape());
  ops::global_avg_pool_backward(projection, dx);
  testing::expect_gradient(
      "global average pool", x, dx,
      [&] {
        ops::global_avg_pool_forward(x, y);
        return testing::project(y, projection);
      },
      pool_check());
}

TEST(Pool2d, RejectsWindowLargerThanInput) {
  const std::string message = testing::error_message([] {
    ops::max_pool2d_forward(Tensor::zeros({1, 2, 2, 1}), Tensor::zeros({1, 1, 1, 1}), {3, 2, 0});
  });
  EXPECT_NE(message.find("input smaller than the window"), std::string::npos) << message;
}

}  // namespace
}  // namespace diffuse
