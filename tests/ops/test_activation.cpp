// Element-wise ops (core/cpu/elementwise.cpp): SiLU, add_channel_vector, add,
// accumulate and scale. Forward against double-precision loops, backward
// against central finite differences, and the aliasing each op allows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/math/exp.h"
#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

using testing::copy_to;
using testing::expect_close;
using testing::expect_gradient;
using testing::GradCheck;
using testing::project;
using testing::random_tensor;

// Shapes with odd sizes, batch 1, a flat one (SiLU and the flat ops take any shape) and one large enough for the
// threaded path.
const Shape kShapes[] = {{1, 5, 5, 6}, {2, 7, 7, 3}, {3, 1, 1, 5}, {4, 9}, {1, 3, 3, 64}, {2, 32, 32, 32}};

// ---- SiLU ----------------------------------------------------------------------------------------

// The vectorizable exp behind SiLU, against double-precision exp over the float range it covers.
TEST(ExpVectorizable, WithinFewUlpOverTheRange) {
  double worst = 0.0;
  for (float x = -87.3f; x <= 88.7f; x += 0.0013f) {
    const double exact = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(exp_vectorizable(x) - exact) / exact);
  }
  EXPECT_LT(worst, 4 * 5.97e-8) << "worst relative error " << worst << " (float ulp is 5.96e-8 to 1.19e-7)";
  EXPECT_EQ(exp_vectorizable(0.0f), 1.0f);
  EXPECT_EQ(exp_vectorizable(89.0f), INFINITY);
  EXPECT_EQ(exp_vectorizable(-88.0f), 0.0f);
  EXPECT_TRUE(std::isnan(exp_vectorizable(NAN)));
}

TEST(SiluForward, MatchesNaiveLoop) {
  uint64_t seed = 1;
  for (const Shape& shape : kShapes) {
    const Tensor x = random_tensor(shape, seed++, -8.0f, 8.0f);
    const Tensor y = Tensor::empty(shape);
    ops::silu_forward(x, y);
    std::vector<float> expected(static_cast<size_t>(x.numel()));
    for (size_t i = 0; i < expected.size(); ++i) {
      const double v = x.f32()[i];
      expected[i] = static_cast<float>(v / (1.0 + std::exp(-v)));
    }
    // expf, one addition and one division in fp32: a few ulps (~4e-7 relative).
    expect_close(y, from_vector(expected, shape), 2e-6, 1e-30, "silu " + shape_string(shape));
  }
}

TEST(SiluForward, SaturatesWithoutNaN) {
  const std::vector<float> values{-1000.0f, -100.0f, -88.0f, -30.0f, -1.0f, 0.0f, 1.0f, 30.0f, 88.0f, 100.0f, 1000.0f};
  const Tensor x = from_vector(values, {static_cast<int64_t>(values.size())});
  const Tensor y = Tensor::empty(x.shape()), dx = Tensor::empty(x.shape());
  Tensor ones = Tensor::empty(x.shape());
  fill(ones, 1.0f);
  ops::silu_forward(x, y);
  ops::silu_backward(x, ones, dx);
  std::vector<float> expected_y, expected_dx;
  for (float v : values) {
    const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(v)));
    expected_y.push_back(static_cast<float>(v * s));
    expected_dx.push_back(static_cast<float>(s * (1.0 + v * (1.0 - s))));
  }
  // Tails: silu(-1000) underflows to -0 and silu'(1000) is exactly 1; a few ulps elsewhere.
  expect_close(y, from_vector(expected_y, x.shape()), 2e-6, 1e-30, "silu tails");
  expect_close(dx, from_vector(expected_dx, x.shape()), 1e-5, 1e-12, "silu' tails");
}

TEST(SiluBackward, MatchesNaiveDerivative) {
  const Shape shape{2, 5, 7, 6};
  const Tensor x = random_tensor(shape, 10, -8.0f, 8.0f), dy = random_tensor(shape, 11);
  const Tensor dx = Tensor::empty(shape);
  ops::silu_backward(x, dy, dx);
  std::vector<float> expected(static_cast<size_t>(x.numel()));
  for (size_t i = 0; i < expected.size(); ++i) {
    const double v = x.f32()[i], s = 1.0 / (1.0 + std::exp(-v));
    expected[i] = static_cast<float>(dy.f32()[i] * s * (1.0 + v * (1.0 - s)));
  }
  // 1 - s cancels for large x, but it multiplies x * (1 - s) -> 0 there, so errors stay at a few ulps of the result;
  // 1e-5 relative leaves room for that and the fp32 sigmoid.
  expect_close(dx, from_vector(expected, shape), 1e-5, 1e-7, "silu backward");
}

TEST(SiluGrad, FiniteDifferences) {
  const Shape shape{2, 3, 5, 7};
  const Tensor x = random_tensor(shape, 20, -4.0f, 4.0f), w = random_tensor(shape, 21);
  const Tensor y = Tensor::empty(shape), dx = Tensor::empty(shape);
  ops::silu_backward(x, w, dx);
  const auto loss = [&] {
    ops::silu_forward(x, y);
    return project(y, w);
  };
  // Each element is independent and smooth (|silu'''| < 0.5), so the default step 1e-2 gives truncation ~1e-5.
  expect_gradient("silu dx", x, dx, loss, GradCheck{1e-2, 1e-2, 1e-3, 128});
}

// ---- add_channel_vector ---------------------------------------------------------------------------

TEST(AddChannelVectorForward, MatchesNaiveLoop) {
  uint64_t seed = 30;
  for (const Shape& shape :
       {Shape{1, 5, 5, 6}, Shape{3, 7, 7, 5}, Shape{2, 1, 1, 3}, Shape{2, 4, 4, 130}, Shape{2, 16, 16, 130}}) {
    const int64_t n = shape[0], hw = shape[1] * shape[2], c = shape[3];
    const Tensor x = random_tensor(shape, seed++), v = random_tensor({n, c}, seed++);
    const Tensor y = Tensor::empty(shape);
    ops::add_channel_vector_forward(x, v, y);
    std::vector<float> expected(static_cast<size_t>(x.numel()));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t p = 0; p < hw; ++p)
        for (int64_t ch = 0; ch < c; ++ch) {
          const int64_t at = (i * hw + p) * c + ch;
          expected[at] = static_cast<float>(static_cast<double>(x.f32()[at]) + v.f32()[i * c + ch]);
        }
    // One fp32 addition: correctly rounded, at most half an ulp (6e-8 relative); atol for sums that cancel.
    expect_close(y, from_vector(expected, shape), 1e-7, 1e-7, "add_channel_vector " + shape_string(shape));
  }
}

void check_add_channel_vector_backward(const Shape& shape) {
  const int64_t n = shape[0], hw = shape[1] * shape[2], c = shape[3];
  const Tensor dy = random_tensor(shape, 40);
  const Tensor dx = random_tensor(shape, 41), dv = random_tensor({n, c}, 42);  // garbage: both are written
  ops::add_channel_vector_backward(dy, dx, dv);
  std::vector<float> expected(static_cast<size_t>(n * c), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      double sum = 0.0;
      for (int64_t p = 0; p < hw; ++p) sum += dy.f32()[(i * hw + p) * c + ch];
      expected[static_cast<size_t>(i * c + ch)] = static_cast<float>(sum);
    }
  // Summed in double like the reference, so one final rounding; atol for sums near 0.
  expect_close(dv, from_vector(expected, {n, c}), 1e-6, 1e-6, "dv");
  expect_close(dx, dy, 0.0, 0.0, "dx = dy");

  // dx undefined, or the very memory of dy (the ResBlock's pass-through): dv is unchanged, dy untouched.
  const Tensor dy_before = copy_to(dy, Device::CPU), dv_alone = Tensor::empty({n, c}),
               dv_aliased = Tensor::empty({n, c});
  ops::add_channel_vector_backward(dy, Tensor(), dv_alone);
  ops::add_channel_vector_backward(dy, dy, dv_aliased);
  expect_close(dv_alone, dv, 0.0, 0.0, "dv with dx undefined");
  expect_close(dv_aliased, dv, 0.0, 0.0, "dv with dx aliasing dy");
  expect_close(dy, dy_before, 0.0, 0.0, "dy untouched");
}

// 130 channels cover more than two 64-channel reduction blocks; the second shape takes the threaded path.
TEST(AddChannelVectorBackward, SumsOverPixelsAndCopiesDx) {
  check_add_channel_vector_backward({2, 6, 5, 130});
  check_add_channel_vector_backward({2, 16, 16, 130});
}

TEST(AddChannelVectorGrad, FiniteDifferences) {
  const Shape shape{2, 3, 5, 6};
  const Tensor x = random_tensor(shape, 50), v = random_tensor({2, 6}, 51), w = random_tensor(shape, 52);
  const Tensor y = Tensor::empty(shape), dx = Tensor::empty(shape), dv = Tensor::empty({2, 6});
  ops::add_channel_vector_backward(w, dx, dv);
  const auto loss = [&] {
    ops::add_channel_vector_forward(x, v, y);
    return project(y, w);
  };
  // Linear in x and v, so only the fp32 rounding of y (~1e-7 per term) perturbs the difference quotient.
  expect_gradient("add_channel_vector dx", x, dx, loss);
  expect_gradient("add_channel_vector dv", v, dv, loss);
}

// ---- scale_shift_channels ------------------------------------------------------------------------

TEST(ScaleShiftChannelsForward, MatchesNaiveLoop) {
  uint64_t seed = 60;
  for (const Shape& shape : {Shape{1, 5, 5, 6}, Shape{3, 7, 7, 5}, Shape{2, 1, 1, 3}, Shape{2, 16, 16, 130}}) {
    const int64_t n = shape[0], hw = shape[1] * shape[2], c = shape[3];
    const Tensor x = random_tensor(shape, seed++), modulation = random_tensor({n, 2 * c}, seed++);
    const Tensor y = Tensor::empty(shape);
    ops::scale_shift_channels_forward(x, modulation, y);
    std::vector<float> expected(static_cast<size_t>(x.numel()));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t p = 0; p < hw; ++p)
        for (int64_t ch = 0; ch < c; ++ch) {
          const int64_t at = (i * hw + p) * c + ch;
          const double scale = modulation.f32()[i * 2 * c + ch], shift = modulation.f32()[i * 2 * c + c + ch];
          expected[at] = static_cast<float>(x.f32()[at] * (1.0 + scale) + shift);
        }
    // A few fp32 roundings; atol for sums that cancel.
    expect_close(y, from_vector(expected, shape), 1e-6, 1e-6, "scale_shift_channels " + shape_string(shape));
  }
}

TEST(ScaleShiftChannelsBackward, MatchesNaiveLoopAndMayWriteInPlace) {
  for (const Shape& shape : {Shape{2, 6, 5, 7}, Shape{2, 16, 16, 130}}) {
    const int64_t n = shape[0], hw = shape[1] * shape[2], c = shape[3];
    const Tensor x = random_tensor(shape, 70), modulation = random_tensor({n, 2 * c}, 71);
    const Tensor dy = random_tensor(shape, 72);
    const Tensor dx = random_tensor(shape, 73), dmodulation = random_tensor({n, 2 * c}, 74);  // garbage: written
    ops::scale_shift_channels_backward(x, modulation, dy, dx, dmodulation);
    std::vector<float> expected_dx(static_cast<size_t>(x.numel())),
        expected_dmodulation(static_cast<size_t>(2 * n * c));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ch = 0; ch < c; ++ch) {
        double scale_sum = 0.0, shift_sum = 0.0;
        for (int64_t p = 0; p < hw; ++p) {
          const int64_t at = (i * hw + p) * c + ch;
          scale_sum += static_cast<double>(dy.f32()[at]) * x.f32()[at];
          shift_sum += dy.f32()[at];
          expected_dx[at] = static_cast<float>(dy.f32()[at] * (1.0 + modulation.f32()[i * 2 * c + ch]));
        }
        expected_dmodulation[i * 2 * c + ch] = static_cast<float>(scale_sum);
        expected_dmodulation[i * 2 * c + c + ch] = static_cast<float>(shift_sum);
      }
    expect_close(dx, from_vector(expected_dx, shape), 1e-6, 1e-7, "dx " + shape_string(shape));
    expect_close(dmodulation, from_vector(expected_dmodulation, {n, 2 * c}), 1e-6, 1e-6, "dscale_shift");

    // dx in dy's memory: the sums still read the incoming gradient.
    const Tensor dy_in_place = copy_to(dy, Device::CPU), dmodulation_in_place = Tensor::empty({n, 2 * c});
    ops::scale_shift_channels_backward(x, modulation, dy_in_place, dy_in_place, dmodulation_in_place);
    expect_close(dy_in_place, dx, 0.0, 0.0, "dx in place");
    expect_close(dmodulation_in_place, dmodulation, 0.0, 0.0, "dscale_shift with dx in place");
  }
}

TEST(ScaleShiftChannelsGrad, FiniteDifferences) {
  const Shape shape{2, 3, 5, 6};
  const Tensor x = random_tensor(shape, 80), modulation = random_tensor({2, 12}, 81), w = random_tensor(shape, 82);
  const Tensor y = Tensor::empty(shape), dx = Tensor::empty(shape), dmodulation = Tensor::empty({2, 12});
  ops::scale_shift_channels_backward(x, modulation, w, dx, dmodulation);
  const auto loss = [&] {
    ops::scale_shift_channels_forward(x, modulation, y);
    return project(y, w);
  };
  // Bilinear in x and the modulation, so the central difference is exact up to fp32 rounding.
  expect_gradient("scale_shift_channels dx", x, dx, loss);
  expect_gradient("scale_shift_channels dscale_shift", modulation, dmodulation, loss);
}

// ---- add, accumulate, scale -----------------------------------------------------------------------

TEST(AddForward, MatchesNaiveLoopAndAllowsAliasing) {
  uint64_t seed = 60;
  for (const Shape& shape : kShapes) {
    const Tensor a = random_tensor(shape, seed++), b = random_tensor(shape, seed++);
    std::vector<float> expected(static_cast<size_t>(a.numel()));
    for (size_t i = 0; i < expected.size(); ++i)
      expected[i] = static_cast<float>(static_cast<double>(a.f32()[i]) + b.f32()[i]);
    const Tensor reference = from_vector(expected, shape);
    // One correctly rounded fp32 addition: half an ulp; atol for sums that cancel.
    const Tensor y = Tensor::empty(shape);
    ops::add(a, b, y);
    expect_close(y, reference, 1e-7, 1e-7, "add " + shape_string(shape));
    // In place, into either operand: same arithmetic, so bit-identical to the out-of-place result.
    const Tensor into_a = copy_to(a, Device::CPU), into_b = copy_to(b, Device::CPU);
    ops::add(into_a, b, into_a);
    ops::add(a, into_b, into_b);
    expect_close(into_a, y, 0.0, 0.0, "add into a");
    expect_close(into_b, y, 0.0, 0.0, "add into b");
  }
}

TEST(AccumulateForward, AddsIntoY) {
  const Shape shape{3, 5, 7, 4};
  const Tensor y = random_tensor(shape, 70), x = random_tensor(shape, 71);
  const std::vector<float> before = to_vector(y);
  ops::accumulate(y, x);
  ops::accumulate(y, x);
  std::vector<float> expected(before.size());
  for (size_t i = 0; i < before.size(); ++i)
    expected[i] = static_cast<float>(before[i] + 2.0 * static_cast<double>(x.f32()[i]));
  // Two fp32 additions: at most one ulp of error; atol for cancelling sums.
  expect_close(y, from_vector(expected, shape), 2.5e-7, 2.5e-7, "accumulate twice");
}

TEST(ScaleForward, MatchesNaiveLoopAndAllowsAliasing) {
  const Shape shape{2, 5, 5, 3};
  const Tensor x = random_tensor(shape, 80);
  for (const float alpha : {0.0f, -1.0f, 0.37f, 1024.0f}) {
    std::vector<float> expected(static_cast<size_t>(x.numel()));
    for (size_t i = 0; i < expected.size(); ++i)
      expected[i] = static_cast<float>(alpha * static_cast<double>(x.f32()[i]));
    const Tensor y = Tensor::empty(shape), in_place = copy_to(x, Device::CPU);
    ops::scale(x, alpha, y);
    ops::scale(in_place, alpha, in_place);
    // One correctly rounded fp32 multiplication.
    expect_close(y, from_vector(expected, shape), 1e-7, 0.0, "scale by " + std::to_string(alpha));
    expect_close(in_place, y, 0.0, 0.0, "scale in place");
  }
}

// A memset: every element exactly zero whatever it held (scale by 0 would keep NaN and give -0), in any dtype.
TEST(FillZero, ClearsNanInfAndEveryDtype) {
  const Tensor x = random_tensor({3, 7}, 81);
  x.f32()[2] = NAN;
  x.f32()[5] = -INFINITY;
  x.f32()[9] = -1.0f;
  ops::fill_zero(x);
  for (float value : to_vector(x)) EXPECT_EQ(std::signbit(value) || value != 0.0f, false) << value;
  for (const DType dtype : {DType::BF16, DType::F16, DType::I32}) {
    const Tensor typed = Tensor::empty({5}, dtype);
    std::memset(typed.raw(), 0xff, typed.nbytes());
    ops::fill_zero(typed);
    const auto* bytes = static_cast<const unsigned char*>(typed.raw());
    EXPECT_TRUE(std::all_of(bytes, bytes + typed.nbytes(), [](unsigned char b) { return b == 0; }))
        << dtype_name(dtype);
  }
}

// The backward of add is the identity on each operand, of accumulate the identity, and of scale a scale; the
// layers rely on that, so check it against finite differences like every other op.
TEST(AddGrad, FiniteDifferences) {
  const Shape shape{2, 3, 3, 5};
  const Tensor a = random_tensor(shape, 90), b = random_tensor(shape, 91), w = random_tensor(shape, 92);
  const Tensor y = Tensor::empty(shape);
  const auto loss = [&] {
    ops::add(a, b, y);
    return project(y, w);
  };
  // Linear: only fp32 rounding of y perturbs the quotient.
  expect_gradient("add da", a, w, loss);
  expect_gradient("add db", b, w, loss);
}

TEST(AccumulateGrad, FiniteDifferences) {
  const Shape shape{2, 3, 3, 5};
  const Tensor y0 = random_tensor(shape, 93), x = random_tensor(shape, 94), w = random_tensor(shape, 95);
  const Tensor y = Tensor::empty(shape);
  const auto loss = [&] {
    copy(y0, y);
    ops::accumulate(y, x);
    return project(y, w);
  };
  // Linear in both: d/dx = d/dy_old = w.
  expect_gradient("accumulate dx", x, w, loss);
  expect_gradient("accumulate dy_old", y0, w, loss);
}

TEST(ScaleGrad, FiniteDifferences) {
  const Shape shape{2, 3, 3, 5};
  const float alpha = -0.75f;
  const Tensor x = random_tensor(shape, 96), w = random_tensor(shape, 97);
  const Tensor y = Tensor::empty(shape), dx = Tensor::empty(shape);
  ops::scale(w, alpha, dx);
  const auto loss = [&] {
    ops::scale(x, alpha, y);
    return project(y, w);
  };
  // Linear: only fp32 rounding of y perturbs the quotient.
  expect_gradient("scale dx", x, dx, loss);
}

}  // namespace
}  // namespace diffuse
