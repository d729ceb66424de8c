// The "bad input" rule (core/ops.h): an op called with mismatched shapes,
// dtypes or ranks throws diffuse::Error whose message names the op and shows
// the shapes involved, and never crashes. Validation lives in core/ops.cpp;
// these tests call ops across all families the way a layer bug would.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/ops.h"
#include "tests/support/op_testing.h"

#if DIFFUSE_HAS_CUDA
#include "core/cuda/runtime.h"
#endif

namespace diffuse {
namespace {

Tensor f32(const Shape& shape) { return Tensor::zeros(shape); }

// Runs `call`, which must throw diffuse::Error containing every fragment.
void expect_op_error(const std::function<void()>& call, const std::vector<std::string>& fragments) {
  SCOPED_TRACE("expected an error mentioning \"" + fragments.front() + "\"");
  const std::string message = testing::error_message(call);
  if (message.empty()) return;  // error_message has reported that nothing was thrown
  for (const std::string& fragment : fragments)
    EXPECT_NE(message.find(fragment), std::string::npos) << "message lacks \"" << fragment << "\": " << message;
}

TEST(Validation, Conv2dInChannelsMismatch) {
  const Tensor x = f32({1, 8, 8, 4}), weight = f32({8, 3, 3, 5}), y = f32({1, 8, 8, 8});
  expect_op_error([&] { ops::conv2d_forward(x, weight, Tensor(), y, 1, 1); },
                  {"conv2d_forward", "weight", "[8,3,3,5]", "[1,8,8,4]", "[8,3,3,4]"});
}

TEST(Validation, Conv2dResidualMatchesTheOutputAndIsNotIt) {
  const Tensor x = f32({1, 8, 8, 4}), weight = f32({8, 3, 3, 4}), y = f32({1, 8, 8, 8});
  expect_op_error(
      [&] {
        ops::conv2d_forward(x, weight, Tensor(), y, 1, 1, f32({1, 8, 8, 4}));
      },
      {"conv2d_forward", "residual", "[1,8,8,4]", "[1,8,8,8]"});
  expect_op_error([&] { ops::conv2d_forward(x, weight, Tensor(), y, 1, 1, y); },
                  {"conv2d_forward", "residual must not be y's memory"});
}

TEST(Validation, Conv2dBadGeometryAndRank) {
  expect_op_error(
      [&] {
        ops::conv2d_forward(f32({1, 8, 8, 4}), f32({8, 3, 3, 4}), Tensor(), f32({1, 12, 12, 8}), 1, 3);
      },
      {"conv2d_forward", "kernel 3x3", "padding 3,3", "[8,3,3,4]"});
  expect_op_error(
      [&] {
        ops::conv2d_forward(f32({8, 8, 4}), f32({8, 3, 3, 4}), Tensor(), f32({1, 8, 8, 8}), 1, 1);
      },
      {"conv2d_forward", "rank 4", "[8,8,4]"});
  expect_op_error(
      [&] {
        ops::conv2d_backward(f32({1, 8, 8, 4}), f32({8, 3, 3, 4}), f32({1, 4, 4, 8}), f32({1, 8, 8, 4}), Tensor(),
                             Tensor(), 1, 1);
      },
      {"conv2d_backward", "dy", "[1,4,4,8]", "[1,8,8,8]"});
}

TEST(Validation, LinearMismatch) {
  expect_op_error(
      [&] {
        ops::linear_forward(f32({2, 3}), f32({4, 5}), Tensor(), f32({2, 4}));
      },
      {"linear_forward", "[4,5]", "[2,3]"});
}

TEST(Validation, GroupNormChannelsNotDivisible) {
  const Tensor x = f32({2, 4, 4, 6});
  expect_op_error(
      [&] {
        ops::group_norm_forward(x, f32({6}), f32({6}), 4, 1e-5f, f32({2, 4, 4, 6}), f32({2, 4}), f32({2, 4}));
      },
      {"group_norm_forward", "6 channels", "4 groups", "[2,4,4,6]"});
  expect_op_error(
      [&] {
        ops::group_norm_forward(x, f32({6}), f32({6}), 0, 1e-5f, f32({2, 4, 4, 6}), f32({2, 0}), f32({2, 0}));
      },
      {"group_norm_forward", "0 groups"});
  expect_op_error(
      [&] {
        ops::group_norm_backward(x, f32({6}), f32({2, 3}), f32({2, 3}), 4, f32({2, 4, 4, 6}), f32({2, 4, 4, 6}),
                                 Tensor(), Tensor());
      },
      {"group_norm_backward", "divisible", "[2,4,4,6]"});
}

TEST(Validation, GroupNormWrongParameterAndStatisticShapes) {
  const Tensor x = f32({2, 4, 4, 6});
  expect_op_error(
      [&] {
        ops::group_norm_forward(x, f32({5}), f32({6}), 3, 1e-5f, f32({2, 4, 4, 6}), f32({2, 3}), f32({2, 3}));
      },
      {"group_norm_forward", "gamma", "[5]", "[6]"});
  expect_op_error(
      [&] {
        ops::group_norm_backward(x, f32({6}), f32({3, 2}), f32({2, 3}), 3, f32({2, 4, 4, 6}), f32({2, 4, 4, 6}),
                                 f32({6}), f32({6}));
      },
      {"group_norm_backward", "mean", "[3,2]", "[2,3]"});
  expect_op_error(
      [&] {
        ops::group_norm_backward(x, f32({6}), f32({2, 3}), f32({2, 3}), 3, f32({2, 4, 4, 6}), f32({2, 4, 4, 6}),
                                 f32({7}), Tensor());
      },
      {"group_norm_backward", "dgamma", "[7]"});
  expect_op_error(
      [&] {
        ops::group_norm_forward(x, f32({6}), f32({6}), 3, 0.0f, f32({2, 4, 4, 6}), f32({2, 3}), f32({2, 3}));
      },
      {"group_norm_forward", "eps"});
}

TEST(Validation, AddShapesDiffer) {
  expect_op_error([&] { ops::add(f32({2, 3}), f32({3, 2}), f32({2, 3})); }, {"add", "[2,3]", "[3,2]"});
  expect_op_error([&] { ops::accumulate(f32({2, 3}), f32({6})); }, {"accumulate", "[2,3]", "[6]"});
  expect_op_error([&] { ops::scale(f32({4}), 2.0f, f32({5})); }, {"scale", "[4]", "[5]"});
}

TEST(Validation, IntegerTensorAsActivation) {
  const Tensor x = Tensor::zeros({2, 3}, DType::I32);
  expect_op_error([&] { ops::silu_forward(x, f32({2, 3})); }, {"silu_forward", "i32", "[2,3]"});
  expect_op_error([&] { ops::scale(x, 1.0f, f32({2, 3})); }, {"scale", "i32"});
  expect_op_error([&] { ops::fill_normal(x, 1, 2, 3, 4); }, {"fill_normal", "i32", "[2,3]"});
}

// The losses stay f32 (their sums and gradients feed the fp32 loss scale).
TEST(Validation, HalfPrecisionTensorsRejectedByFp32Ops) {
  const Tensor b = Tensor::zeros({2, 4, 4, 3}, DType::BF16), weights = f32({2}), per_sample = f32({2});
  expect_op_error(
      [&] {
        ops::mse_loss_forward(b, f32({2, 4, 4, 3}), weights, per_sample);
      },
      {"mse_loss_forward", "pred has dtype bf16, expected f32"});
  const Tensor h = Tensor::zeros({2, 4, 4, 3}, DType::F16);
  expect_op_error(
      [&] {
        ops::pseudo_huber_loss_forward(f32({2, 4, 4, 3}), h, weights, 0.03f, per_sample);
      },
      {"pseudo_huber_loss_forward", "target has dtype f16", "[2,4,4,3]"});
}

// Activations share one dtype, f32, bf16 or f16: the first defined one's.
TEST(Validation, MixedActivationDtypesNameTheArgumentAndBothDtypes) {
  const Tensor a = f32({2, 4, 4, 3}), b = Tensor::zeros({2, 4, 4, 3}, DType::BF16);
  expect_op_error(
      [&] {
        ops::add(a, b, f32({2, 4, 4, 3}));
      },
      {"add", "b has dtype bf16, expected f32 like a", "[2,4,4,3]"});
  const Tensor h = Tensor::zeros({2, 4, 4, 3}, DType::F16);
  expect_op_error([&] { ops::silu_backward(b, h, b); }, {"silu_backward", "dy has dtype f16, expected bf16 like x"});
  expect_op_error(
      [&] {
        ops::upsample_nearest2x_forward(h, Tensor::zeros({2, 8, 8, 3}, DType::BF16));
      },
      {"upsample_nearest2x_forward", "y has dtype bf16, expected f16 like x"});
  expect_op_error([&] { ops::silu_forward(Tensor::zeros({4}, DType::I32), f32({4})); },
                  {"silu_forward", "x has dtype i32, expected f32, bf16 or f16"});
}

// Every op that takes bf16 or f16 activations refuses a bf16 input beside an f32 output (or gradient).
TEST(Validation, MixedActivationDtypesRefusedByEveryLowPrecisionOp) {
  const auto bf16 = [](const Shape& shape) { return Tensor::zeros(shape, DType::BF16); };
  const Shape map{2, 4, 4, 3}, pooled{2, 2, 2, 3}, resized{2, 8, 8, 3};
  const ops::Pool2dWindow window{2, 2, 0};
  expect_op_error([&] { ops::relu_forward(bf16(map), f32(map)); },
                  {"relu_forward", "y has dtype f32, expected bf16 like x", "[2,4,4,3]"});
  expect_op_error([&] { ops::relu_backward(bf16(map), bf16(map), f32(map)); },
                  {"relu_backward", "dx has dtype f32, expected bf16 like x"});
  expect_op_error([&] { ops::max_pool2d_forward(bf16(map), f32(pooled), window); },
                  {"max_pool2d_forward", "y has dtype f32, expected bf16 like x"});
  expect_op_error([&] { ops::max_pool2d_backward(bf16(map), f32(pooled), bf16(map), window); },
                  {"max_pool2d_backward", "dy has dtype f32, expected bf16 like x"});
  expect_op_error(
      [&] {
        ops::global_avg_pool_forward(bf16(map), f32({2, 3}));
      },
      {"global_avg_pool_forward", "y has dtype f32, expected bf16 like x"});
  expect_op_error(
      [&] {
        ops::global_avg_pool_backward(bf16({2, 3}), f32(map));
      },
      {"global_avg_pool_backward", "dx has dtype f32, expected bf16 like dy"});
  expect_op_error([&] { ops::resize_bilinear_forward(bf16(map), f32(resized)); },
                  {"resize_bilinear_forward", "y has dtype f32, expected bf16 like x"});
  expect_op_error([&] { ops::resize_bilinear_backward(bf16(resized), f32(map)); },
                  {"resize_bilinear_backward", "dx has dtype f32, expected bf16 like dy"});
  expect_op_error([&] { ops::clamp(bf16(map), -1.0f, 1.0f, f32(map)); },
                  {"clamp", "y has dtype f32, expected bf16 like x"});
  expect_op_error([&] { ops::combine_per_sample(bf16(map), f32({2}), bf16(map), f32({2}), f32(map)); },
                  {"combine_per_sample", "y has dtype f32, expected bf16 like p"});
  // The per-sample factors stay f32 beside bf16 samples.
  expect_op_error([&] { ops::combine_per_sample(bf16(map), bf16({2}), bf16(map), f32({2}), bf16(map)); },
                  {"combine_per_sample", "a has dtype bf16, expected f32"});
}

// Parameters, their gradients and the statistics stay f32 beside bf16 or f16 activations.
TEST(Validation, ParametersAndStatisticsStayFp32) {
  const Tensor x = Tensor::zeros({2, 4, 4, 8}, DType::BF16), y = Tensor::zeros({2, 4, 4, 8}, DType::BF16);
  const Tensor gamma = Tensor::zeros({8}, DType::BF16), beta = f32({8}), mean = f32({2, 2}), rstd = f32({2, 2});
  expect_op_error([&] { ops::group_norm_forward(x, gamma, beta, 2, 1e-5f, y, mean, rstd); },
                  {"group_norm_forward", "gamma has dtype bf16, expected f32"});
  expect_op_error(
      [&] {
        ops::group_norm_forward(x, f32({8}), beta, 2, 1e-5f, y, mean, Tensor::zeros({2, 2}, DType::BF16));
      },
      {"group_norm_forward", "rstd has dtype bf16, expected f32"});
  expect_op_error(
      [&] {
        ops::add_channel_vector_backward(x, x, Tensor::zeros({2, 8}, DType::F16));
      },
      {"add_channel_vector_backward", "dv has dtype f16, expected f32"});
}

// Matrix products: activations share one float dtype, weights are f32 or that dtype, biases, weight gradients and
// probabilities f32; the CPU has no f16 products.
TEST(Validation, ProductDtypes) {
  const auto bf16 = [](const Shape& shape) { return Tensor::zeros(shape, DType::BF16); };
  const Tensor x = bf16({1, 8, 8, 4}), y = bf16({1, 8, 8, 8});
  expect_op_error(
      [&] {
        ops::conv2d_forward(x, bf16({8, 3, 3, 4}), Tensor(), f32({1, 8, 8, 8}), 1, 1);
      },
      {"conv2d_forward", "y has dtype f32, expected bf16"});
  expect_op_error(
      [&] {
        ops::conv2d_forward(x, Tensor::zeros({8, 3, 3, 4}, DType::F16), Tensor(), y, 1, 1);
      },
      {"conv2d_forward", "weight has dtype f16, expected bf16 or f32"});
  expect_op_error(
      [&] {
        ops::conv2d_forward(x, f32({8, 3, 3, 4}), bf16({8}), y, 1, 1);
      },
      {"conv2d_forward", "bias has dtype bf16, expected f32"});
  expect_op_error(
      [&] {
        ops::conv2d_backward(x, f32({8, 3, 3, 4}), y, x, bf16({8, 3, 3, 4}), Tensor(), 1, 1);
      },
      {"conv2d_backward", "dweight has dtype bf16, expected f32"});
  expect_op_error(
      [&] {
        ops::conv2d_forward(f32({1, 8, 8, 4}), bf16({8, 3, 3, 4}), Tensor(), f32({1, 8, 8, 8}), 1, 1);
      },
      {"conv2d_forward", "weight has dtype bf16, expected f32"});
  expect_op_error(
      [&] {
        ops::linear_backward(bf16({2, 3}), bf16({4, 3}), bf16({2, 4}), Tensor(), Tensor(), bf16({4}));
      },
      {"linear_backward", "dbias has dtype bf16, expected f32"});
  expect_op_error(
      [&] {
        ops::linear_forward(Tensor::zeros({2, 3}, DType::F16), f32({4, 3}), Tensor(),
                            Tensor::zeros({2, 4}, DType::F16));
      },
      {"linear_forward", "x has dtype f16", "no f16 products"});
  expect_op_error(
      [&] {
        ops::attention_forward(bf16({2, 16, 12}), bf16({2, 16, 4}), bf16({2, 16, 16}));
      },
      {"attention_forward", "probs has dtype bf16, expected f32"});
  expect_op_error(
      [&] {
        ops::attention_forward(bf16({2, 16, 12}), f32({2, 16, 4}), f32({2, 16, 16}));
      },
      {"attention_forward", "out has dtype f32, expected bf16"});
}

TEST(Validation, WrongRank) {
  expect_op_error(
      [&] {
        ops::upsample_nearest2x_forward(f32({4, 4, 3}), f32({8, 8, 3}));
      },
      {"upsample_nearest2x_forward", "rank 4", "[4,4,3]"});
  expect_op_error(
      [&] {
        ops::upsample_nearest2x_backward(f32({2, 8, 8, 3}), f32({2, 4, 4}));
      },
      {"upsample_nearest2x_backward", "rank 4", "[2,4,4]"});
  expect_op_error(
      [&] {
        ops::add_channel_vector_forward(f32({2, 4, 4, 3}), f32({3}), f32({2, 4, 4, 3}));
      },
      {"add_channel_vector_forward", "v", "[3]", "[2,3]"});
  expect_op_error(
      [&] {
        ops::add_channel_vector_backward(f32({2, 4, 4, 3}), Tensor(), f32({2, 4, 3}));
      },
      {"add_channel_vector_backward", "dv", "[2,4,3]"});
  expect_op_error(
      [&] {
        ops::concat_channels(f32({2, 4, 4, 3}), f32({2, 4, 4}), f32({2, 4, 4, 7}));
      },
      {"concat_channels", "b", "[2,4,4]"});
  expect_op_error(
      [&] {
        ops::group_norm_forward(f32({4, 6}), f32({6}), f32({6}), 3, 1e-5f, f32({4, 6}), f32({4, 3}), f32({4, 3}));
      },
      {"group_norm_forward", "rank 4", "[4,6]"});
  expect_op_error(
      [&] {
        ops::attention_forward(f32({2, 16, 13}), f32({2, 16, 4}), f32({2, 16, 16}));
      },
      {"attention_forward", "divisible by 3", "[2,16,13]"});
  expect_op_error(
      [&] {
        ops::attention_forward(f32({2, 16, 12}), f32({2, 16, 4}), f32({6, 16, 16}), 3);
      },
      {"attention_forward", "heads 3", "divide the channels 4"});
  expect_op_error(
      [&] {
        ops::attention_backward(f32({2, 16, 12}), f32({2, 16, 16}), f32({2, 16, 4}), f32({2, 16, 12}), 2);
      },
      {"attention_backward", "probs", "[4,16,16]"});
  expect_op_error(
      [&] {
        ops::scale_shift_channels_forward(f32({2, 4, 4, 3}), f32({2, 3}), f32({2, 4, 4, 3}));
      },
      {"scale_shift_channels_forward", "scale_shift", "[2,6]"});
  expect_op_error(
      [&] {
        ops::scale_shift_channels_backward(f32({2, 4, 4, 3}), f32({2, 6}), f32({2, 4, 4, 3}), Tensor(), f32({2, 3}));
      },
      {"scale_shift_channels_backward", "dscale_shift", "[2,3]"});
}

TEST(Validation, ResampleAndPlumbingShapes) {
  expect_op_error(
      [&] {
        ops::upsample_nearest2x_forward(f32({2, 4, 4, 3}), f32({2, 8, 7, 3}));
      },
      {"upsample_nearest2x_forward", "[2,8,7,3]", "[2,8,8,3]"});
  expect_op_error(
      [&] {
        ops::concat_channels(f32({2, 4, 4, 3}), f32({2, 4, 5, 2}), f32({2, 4, 4, 5}));
      },
      {"concat_channels", "[2,4,5,2]", "[2,4,4,2]"});
  expect_op_error(
      [&] {
        ops::split_channels(f32({2, 4, 4, 5}), f32({2, 4, 4, 3}), f32({2, 4, 4, 3}));
      },
      {"split_channels", "b", "[2,4,4,3]", "[2,4,4,2]"});
  expect_op_error(
      [&] {
        ops::split_channels(f32({2, 4, 4, 5}), f32({2, 4, 4, 6}), Tensor());
      },
      {"split_channels", "out of range", "[2,4,4,5]"});
  expect_op_error(
      [&] {
        ops::split_channels(f32({2, 4, 4, 5}), Tensor(), Tensor());
      },
      {"split_channels", "a or b is required"});
}

TEST(Validation, MissingRequiredTensor) {
  expect_op_error([&] { ops::silu_forward(Tensor(), f32({2})); }, {"silu_forward", "x is required"});
  expect_op_error([&] { ops::silu_backward(f32({2}), Tensor(), f32({2})); }, {"silu_backward", "dy is required"});
  expect_op_error([&] { ops::add(f32({2}), f32({2}), Tensor()); }, {"add", "y is required"});
  expect_op_error([&] { ops::fill_uniform(Tensor(), 1, 2, 3, 4); }, {"fill_uniform", "batch axis"});
}

TEST(Validation, DropoutProbabilityAndShapes) {
  expect_op_error(
      [&] {
        ops::dropout_forward(f32({2, 3}), 1.0f, ops::DropoutKey{}, f32({2, 3}));
      },
      {"dropout_forward", "probability 1"});
  expect_op_error(
      [&] {
        ops::dropout_backward(f32({2, 3}), -0.1f, ops::DropoutKey{}, f32({2, 3}));
      },
      {"dropout_backward", "probability"});
  expect_op_error(
      [&] {
        ops::dropout_forward(f32({2, 3}), 0.5f, ops::DropoutKey{}, f32({3, 2}));
      },
      {"dropout_forward", "[3,2]", "[2,3]"});
}

TEST(Validation, GroupNormSiluChecksGroupsShapesAndDropout) {
  const ops::Dropout no_dropout;
  expect_op_error(
      [&] {
        ops::group_norm_silu_forward(f32({2, 3, 3, 6}), f32({6}), f32({6}), 4, 1e-5f, no_dropout, f32({2, 3, 3, 6}),
                                     f32({2, 4}), f32({2, 4}));
      },
      {"group_norm_silu_forward", "6 channels", "4 groups"});
  expect_op_error(
      [&] {
        ops::group_norm_silu_forward(f32({2, 3, 3, 6}), f32({6}), f32({6}), 3, 1e-5f, ops::Dropout{1.0f, {}},
                                     f32({2, 3, 3, 6}), f32({2, 3}), f32({2, 3}));
      },
      {"group_norm_silu_forward", "dropout probability 1"});
  expect_op_error(
      [&] {
        ops::group_norm_silu_backward(f32({2, 3, 3, 6}), f32({6}), f32({5}), f32({2, 3}), f32({2, 3}), 3, no_dropout,
                                      f32({2, 3, 3, 6}), f32({2, 3, 3, 6}), Tensor(), Tensor());
      },
      {"group_norm_silu_backward", "beta", "[5]", "[6]"});
}

TEST(Validation, OtherFamilies) {
  expect_op_error(
      [&] {
        ops::embedding_forward(f32({10, 4}), f32({3}), f32({3, 4}));
      },
      {"embedding_forward", "labels", "f32", "i32"});
  expect_op_error(
      [&] {
        ops::mse_loss_forward(f32({2, 3}), f32({2, 3}), f32({3}), f32({2}));
      },
      {"mse_loss_forward", "weights", "[3]"});
  expect_op_error(
      [&] {
        ops::pseudo_huber_loss_backward(f32({2, 3}), f32({2, 4}), f32({2}), 0.1f, 1.0f, f32({2, 3}));
      },
      {"pseudo_huber_loss_backward", "target", "[2,4]"});
  expect_op_error(
      [&] {
        ops::mse_loss_backward(f32({2, 3}), f32({2, 3}), f32({2}), {1.0f, f32({1})}, f32({2, 3}));
      },
      {"mse_loss_backward", "scale_state", "[1]"});
  expect_op_error(
      [&] {
        ops::pseudo_huber_loss_backward(f32({2, 3}), f32({2, 3}), f32({2}), 0.1f,
                                        {1.0f, Tensor::zeros({kStepStateFloats}, DType::I32)}, f32({2, 3}));
      },
      {"pseudo_huber_loss_backward", "scale_state", "i32"});
  expect_op_error([&] { ops::adamw_update(f32({4}), f32({4}), f32({5}), f32({4}), ops::AdamWStep{}); },
                  {"adamw_update", "m", "[5]", "[4]"});
  expect_op_error([&] { ops::adamw_update(f32({4}), f32({4}), f32({4}), f32({4}), ops::AdamWStep{}, f32({3})); },
                  {"adamw_update", "decision", "[3]"});
  expect_op_error([&] { ops::ema_update(f32({4}), f32({4}), 0.9f, f32({3})); }, {"ema_update", "decision", "[3]"});
  expect_op_error([&] { ops::sum_of_squares(f32({4}), f32({1})); }, {"sum_of_squares", "result", "[1]"});
  expect_op_error([&] { ops::decide_step(f32({3}), StepRule{}, f32({kStepStateFloats})); },
                  {"decide_step", "partial_squares", "whole doubles"});
  expect_op_error([&] { ops::decide_step(f32({2}), StepRule{}, f32({2})); }, {"decide_step", "state", "[2]"});
  expect_op_error([&] { ops::cast(f32({4}), Tensor::zeros({4}, DType::I32)); }, {"cast", "i32"});
  expect_op_error([&] { ops::fill_zero(Tensor()); }, {"fill_zero", "x is required"});
}

// A scalar where a rank-4 tensor belongs, and a tensor on a device this build or machine cannot run ops on: a
// readable error naming the op, never a crash.
TEST(Validation, ScalarSplitOutputAndForeignDevice) {
  const Tensor y = f32({2, 4, 4, 5});
  expect_op_error([&] { ops::split_channels(y, Tensor::zeros({}), Tensor()); }, {"split_channels", "rank 4", "f32[]"});
  expect_op_error([&] { ops::split_channels(y, Tensor(), Tensor::zeros({})); }, {"split_channels", "rank 4", "f32[]"});
  float memory[4] = {};
  const Tensor on_gpu = Tensor::view(memory, {4}, DType::F32, Device::CUDA);
  // With a GPU the op would run on this host memory; without one (or without CUDA) it must refuse.
  bool gpu_usable = false;
#if DIFFUSE_HAS_CUDA
  gpu_usable = cuda::device_count() > 0;
#endif
  if (!gpu_usable) expect_op_error([&] { ops::silu_forward(on_gpu, on_gpu); }, {"silu_forward", "cuda"});
}

// Degenerate but consistent shapes (an empty batch, zero channels) must run without touching memory.
TEST(Validation, EmptyTensorsDoNotCrash) {
  const Tensor x = f32({0, 4, 4, 8});
  EXPECT_NO_THROW(
      ops::group_norm_forward(x, f32({8}), f32({8}), 2, 1e-5f, f32({0, 4, 4, 8}), f32({0, 2}), f32({0, 2})));
  EXPECT_NO_THROW(ops::group_norm_backward(x, f32({8}), f32({0, 2}), f32({0, 2}), 2, f32({0, 4, 4, 8}),
                                           f32({0, 4, 4, 8}), f32({8}), f32({8})));
  EXPECT_NO_THROW(ops::silu_forward(x, f32({0, 4, 4, 8})));
  EXPECT_NO_THROW(ops::upsample_nearest2x_forward(x, f32({0, 8, 8, 8})));
  EXPECT_NO_THROW(ops::concat_channels(x, f32({0, 4, 4, 2}), f32({0, 4, 4, 10})));
  EXPECT_NO_THROW(ops::add_channel_vector_backward(x, Tensor(), f32({0, 8})));
  EXPECT_NO_THROW(ops::dropout_forward(x, 0.5f, ops::DropoutKey{}, f32({0, 4, 4, 8})));
  EXPECT_NO_THROW(ops::fill_normal(f32({3, 0}), 1, 2, 3, 4));
  // Zero channels (any group count divides 0) and zero pixels: statistics of an empty group are mean 0, var 0.
  const Tensor mean = f32({1, 2}), rstd = f32({1, 2});
  EXPECT_NO_THROW(
      ops::group_norm_forward(f32({1, 2, 2, 0}), f32({0}), f32({0}), 2, 1e-5f, f32({1, 2, 2, 0}), mean, rstd));
  EXPECT_NO_THROW(
      ops::group_norm_forward(f32({1, 0, 3, 4}), f32({4}), f32({4}), 2, 1e-5f, f32({1, 0, 3, 4}), mean, rstd));
  EXPECT_EQ(mean.f32()[0], 0.0f);
}

}  // namespace
}  // namespace diffuse
