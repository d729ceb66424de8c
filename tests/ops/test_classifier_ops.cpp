// ReLU and softmax cross-entropy (the classifier's ops): forward against the
// formulas, backward by central differences, labels out of range rejected.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

TEST(Relu, ForwardAndGradient) {
  const Tensor x = testing::random_tensor({4, 3, 5}, 51);
  Tensor y = Tensor::empty(x.shape());
  ops::relu_forward(x, y);
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(y.f32()[i], std::max(0.0f, x.f32()[i]));
  const Tensor projection = testing::random_tensor(x.shape(), 52);
  Tensor dx = Tensor::empty(x.shape());
  ops::relu_backward(x, projection, dx);
  testing::GradCheck options;
  options.step = 1e-3;  // inputs closer than this to 0 would straddle the kink; none are in this draw
  testing::expect_gradient(
      "relu", x, dx,
      [&] {
        ops::relu_forward(x, y);
        return testing::project(y, projection);
      },
      options);
  ops::relu_forward(x, x);  // in place
  EXPECT_EQ(to_vector(x), to_vector(y));
}

TEST(CrossEntropy, ForwardMatchesFormulaAndGradient) {
  const int64_t n = 5, k = 7;
  const Tensor logits = testing::random_tensor({n, k}, 61, -4.0f, 4.0f);
  Tensor labels = Tensor::empty({n}, DType::I32);
  for (int64_t i = 0; i < n; ++i) labels.i32()[i] = static_cast<int32_t>((3 * i + 1) % k);
  Tensor loss = Tensor::empty({n});
  ops::cross_entropy_forward(logits, labels, loss);
  for (int64_t i = 0; i < n; ++i) {
    double total = 0.0;
    for (int64_t j = 0; j < k; ++j) total += std::exp(static_cast<double>(logits.f32()[i * k + j]));
    EXPECT_NEAR(loss.f32()[i], std::log(total) - logits.f32()[i * k + labels.i32()[i]], 1e-5);
  }
  const float scale = 0.5f;
  Tensor dlogits = Tensor::empty(logits.shape());
  ops::cross_entropy_backward(logits, labels, scale, dlogits);
  testing::expect_gradient("cross entropy", logits, dlogits, [&] {
    ops::cross_entropy_forward(logits, labels, loss);
    double sum = 0.0;
    for (float v : to_vector(loss)) sum += scale * v;
    return sum;
  });
  // Huge logits do not overflow.
  const Tensor large = from_vector({1000.0f, 0.0f, -1000.0f}, {1, 3});
  Tensor one_label = Tensor::zeros({1}, DType::I32), one_loss = Tensor::empty({1});
  ops::cross_entropy_forward(large, one_label, one_loss);
  EXPECT_NEAR(one_loss.f32()[0], 0.0f, 1e-6);
}

TEST(CrossEntropy, RejectsLabelOutOfRange) {
  Tensor labels = Tensor::empty({2}, DType::I32);
  labels.i32()[0] = 1;
  labels.i32()[1] = 3;
  try {
    ops::cross_entropy_forward(Tensor::zeros({2, 3}), labels, Tensor::empty({2}));
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("label 3 is outside [0, 3)"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace diffuse
