// linear_forward / linear_backward on the CPU backend: forward against a
// double-precision loop, every gradient by central finite differences, and
// the write/accumulate contract of backward.
#include <gtest/gtest.h>

#include <string>

#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

enum class Bias { With, Without };

struct LinearCase {
  int64_t rows, in_features, out_features;
  Bias bias;

  std::string name() const {
    return concat("x[", rows, ",", in_features, "] weight[", out_features, ",", in_features, "]",
                  bias == Bias::With ? " bias" : " no bias");
  }
};

struct LinearInputs {
  Tensor x, weight, bias;
  LinearInputs(const LinearCase& c, uint64_t seed)
      : x(testing::random_tensor({c.rows, c.in_features}, seed)),
        weight(testing::random_tensor({c.out_features, c.in_features}, seed + 1)),
        bias(c.bias == Bias::With ? testing::random_tensor({c.out_features}, seed + 2) : Tensor()) {}
};

Tensor reference_linear(const LinearCase& c, const LinearInputs& in) {
  Tensor y = Tensor::empty({c.rows, c.out_features});
  for (int64_t m = 0; m < c.rows; ++m)
    for (int64_t n = 0; n < c.out_features; ++n) {
      double sum = c.bias == Bias::With ? in.bias.f32()[n] : 0.0;
      for (int64_t k = 0; k < c.in_features; ++k)
        sum += static_cast<double>(in.x.f32()[m * c.in_features + k]) * in.weight.f32()[n * c.in_features + k];
      y.f32()[m * c.out_features + n] = static_cast<float>(sum);
    }
  return y;
}

void check_forward(const LinearCase& c, uint64_t seed) {
  const LinearInputs in(c, seed);
  const Tensor y = testing::nan_tensor({c.rows, c.out_features});  // y must be written, not accumulated into
  ops::linear_forward(in.x, in.weight, in.bias, y);
  // fp32 GEMM vs double loop over K products of magnitude <= 1.
  testing::expect_close(y, reference_linear(c, in), 1e-4, 1e-5, "linear_forward " + c.name());
}

TEST(LinearForward, WithBias) {
  check_forward({1, 1, 1, Bias::With}, 1);
  check_forward({3, 5, 7, Bias::With}, 2);
  check_forward({17, 33, 9, Bias::With}, 3);
  check_forward({64, 128, 256, Bias::With}, 4);
}

TEST(LinearForward, WithoutBias) {
  check_forward({1, 7, 3, Bias::Without}, 5);
  check_forward({13, 31, 5, Bias::Without}, 6);
}

void check_gradients(const LinearCase& c, uint64_t seed) {
  const LinearInputs in(c, seed);
  const Tensor projection = testing::random_tensor({c.rows, c.out_features}, seed + 3);
  Tensor y = Tensor::empty({c.rows, c.out_features});
  const auto loss = [&] {
    ops::linear_forward(in.x, in.weight, in.bias, y);
    return testing::project(y, projection);
  };
  Tensor dx = Tensor::empty({c.rows, c.in_features}), dweight = Tensor::zeros({c.out_features, c.in_features});
  Tensor dbias = c.bias == Bias::With ? Tensor::zeros({c.out_features}) : Tensor();
  ops::linear_backward(in.x, in.weight, projection, dx, dweight, dbias);

  // Linear in each input: no truncation error, so a large step shrinks fp32 rounding noise; probe every element.
  testing::GradCheck options;
  options.step = 0.25;
  options.rtol = 1e-3;
  options.atol = 1e-4;
  options.max_elements = 1 << 20;
  testing::expect_gradient("linear dx " + c.name(), in.x, dx, loss, options);
  testing::expect_gradient("linear dweight " + c.name(), in.weight, dweight, loss, options);
  if (c.bias == Bias::With) testing::expect_gradient("linear dbias " + c.name(), in.bias, dbias, loss, options);
}

TEST(LinearGrad, WithBias) {
  check_gradients({3, 5, 4, Bias::With}, 11);
  check_gradients({1, 7, 3, Bias::With}, 12);
}

TEST(LinearGrad, WithoutBias) { check_gradients({4, 3, 6, Bias::Without}, 13); }

TEST(LinearBackward, AccumulatesParameterGradsAndOverwritesDx) {
  const LinearCase c{5, 7, 3, Bias::With};
  const LinearInputs in(c, 21);
  const Tensor dy = testing::random_tensor({c.rows, c.out_features}, 24);
  Tensor dx_fresh = Tensor::empty({c.rows, c.in_features});
  Tensor dweight_fresh = Tensor::zeros({c.out_features, c.in_features}), dbias_fresh = Tensor::zeros({c.out_features});
  ops::linear_backward(in.x, in.weight, dy, dx_fresh, dweight_fresh, dbias_fresh);

  const Tensor dx = testing::nan_tensor({c.rows, c.in_features});
  const Tensor dweight_before = testing::random_tensor({c.out_features, c.in_features}, 25);
  const Tensor dbias_before = testing::random_tensor({c.out_features}, 26);
  const Tensor dweight = testing::copy_to(dweight_before, Device::CPU);
  const Tensor dbias = testing::copy_to(dbias_before, Device::CPU);
  for (int call = 0; call < 2; ++call) ops::linear_backward(in.x, in.weight, dy, dx, dweight, dbias);

  testing::expect_close(dx, dx_fresh, 0.0, 0.0, "linear dx overwritten");
  // Two fp32 additions onto the previous contents.
  testing::expect_close(dweight, testing::add_scaled(dweight_before, 2.0f, dweight_fresh), 1e-5, 1e-5,
                        "linear dweight accumulated");
  testing::expect_close(dbias, testing::add_scaled(dbias_before, 2.0f, dbias_fresh), 1e-5, 1e-5,
                        "linear dbias accumulated");

  // An undefined gradient is skipped and leaves the others as they would be.
  Tensor dweight_only = Tensor::zeros(dweight.shape());
  ops::linear_backward(in.x, in.weight, dy, Tensor(), dweight_only, Tensor());
  testing::expect_close(dweight_only, dweight_fresh, 0.0, 0.0, "linear dweight alone");
}

// An empty batch is a valid call: nothing to write, parameter gradients unchanged.
TEST(LinearBackward, EmptyBatchKeepsParameterGrads) {
  const LinearCase c{0, 4, 3, Bias::With};
  const LinearInputs in(c, 31);
  Tensor y = Tensor::empty({0, c.out_features}), dx = Tensor::empty({0, c.in_features});
  ops::linear_forward(in.x, in.weight, in.bias, y);
  const Tensor dweight_before = testing::random_tensor({c.out_features, c.in_features}, 34);
  const Tensor dbias_before = testing::random_tensor({c.out_features}, 35);
  const Tensor dweight = testing::copy_to(dweight_before, Device::CPU);
  const Tensor dbias = testing::copy_to(dbias_before, Device::CPU);
  ops::linear_backward(in.x, in.weight, y, dx, dweight, dbias);
  testing::expect_close(dweight, dweight_before, 0.0, 0.0, "linear dweight, empty batch");
  testing::expect_close(dbias, dbias_before, 0.0, 0.0, "linear dbias, empty batch");
}

}  // namespace
}  // namespace diffuse
