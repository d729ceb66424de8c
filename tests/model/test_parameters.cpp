// ParameterStore: declaration, flat-buffer layout, views, zeroing and the
// deterministic DDPM initialisation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "core/half.h"
#include "core/ops.h"
#include "model/parameters.h"
#include "tests/support/op_testing.h"

namespace diffuse::model {
namespace {

void declare_small_model(ParameterStore& store, int first_width = 5) {
  store.declare("conv.weight", {8, 3, 3, 4}, {InitRule::kFanAvgUniform, 1.0f});
  store.declare("conv.bias", {first_width}, {InitRule::kZeros});
  store.declare("norm.gamma", {8}, {InitRule::kOnes});
  store.declare("zero_conv.weight", {8, 1, 1, 8}, {InitRule::kFanAvgUniform, 1e-10f});
  store.declare("linear.weight", {6, 10}, {InitRule::kFanAvgUniform, 1.0f});
  store.declare("table.weight", {11, 16}, {InitRule::kNormal, 1.0f});
}

TEST(ParameterStore, OffsetsAreContiguousInDeclarationOrder) {
  ParameterStore store;
  declare_small_model(store);
  EXPECT_EQ(store.count(), 6);
  EXPECT_EQ(store.numel(), 8 * 9 * 4 + 5 + 8 + 64 + 60 + 176);
  int64_t offset = 0;
  for (int64_t i = 0; i < store.count(); ++i) {
    EXPECT_EQ(store.at(i).index, i);
    EXPECT_EQ(store.at(i).offset, offset) << store.at(i).name;
    offset += shape_numel(store.at(i).shape);
  }
  EXPECT_EQ(offset, store.numel());
}

TEST(ParameterStore, ViewsPointIntoTheFlatBuffers) {
  ParameterStore store;
  declare_small_model(store);
  EXPECT_FALSE(store.finalized());
  store.finalize(Device::CPU);
  ASSERT_TRUE(store.finalized());
  EXPECT_EQ(store.params().shape(), Shape{store.numel()});
  EXPECT_EQ(store.grads().shape(), Shape{store.numel()});
  for (int64_t i = 0; i < store.count(); ++i) {
    const Parameter& parameter = store.at(i);
    EXPECT_EQ(parameter.value.shape(), parameter.shape);
    EXPECT_EQ(parameter.value.f32(), store.params().f32() + parameter.offset);
    EXPECT_EQ(parameter.grad.f32(), store.grads().f32() + parameter.offset);
    EXPECT_EQ(store.value(parameter.name).raw(), parameter.value.raw());
    EXPECT_EQ(store.grad(parameter.name).raw(), parameter.grad.raw());
  }
  for (float g : to_vector(store.grads())) ASSERT_EQ(g, 0.0f);
}

TEST(ParameterStore, RejectsMisuseWithClearMessages) {
  ParameterStore store;
  declare_small_model(store);
  EXPECT_THROW(store.declare("conv.weight", {1}, {InitRule::kZeros}), Error);
  EXPECT_THROW(store.declare("empty", {0, 3}, {InitRule::kZeros}), Error);
  EXPECT_THROW(store.declare("vector.weight", {3}, {InitRule::kFanAvgUniform, 1.0f}), Error);
  EXPECT_THROW(store.value("conv.weight"), Error);  // no storage yet
  store.finalize(Device::CPU);
  EXPECT_THROW(store.declare("late.bias", {3}, {InitRule::kZeros}), Error);
  EXPECT_THROW(store.finalize(Device::CPU), Error);
  try {
    store.get("down.9.block.0.conv1.weight");
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("down.9.block.0.conv1.weight"), std::string::npos) << error.what();
  }
}

TEST(ParameterStore, ZeroGradsClearsEverythingIncludingNaN) {
  ParameterStore store;
  declare_small_model(store);
  store.finalize(Device::CPU);
  float* grads = store.grads().f32();
  for (int64_t i = 0; i < store.numel(); ++i) grads[i] = static_cast<float>(i) + 1.0f;
  grads[3] = std::numeric_limits<float>::quiet_NaN();
  grads[7] = std::numeric_limits<float>::infinity();
  store.zero_grads();
  for (int64_t i = 0; i < store.numel(); ++i) ASSERT_EQ(grads[i], 0.0f) << i;
}

TEST(ParameterStore, InitialisationFollowsTheDdpmRules) {
  ParameterStore store;
  declare_small_model(store);
  store.finalize(Device::CPU);
  store.initialize(1234);

  const auto check_uniform = [&](const std::string& name, double scale, double fan_in, double fan_out) {
    const double limit = std::sqrt(3.0 * scale / ((fan_in + fan_out) / 2.0));
    const std::vector<float> values = to_vector(store.value(name));
    double max_abs = 0.0, sum = 0.0;
    for (float v : values) {
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(v)));
      sum += v;
    }
    EXPECT_LE(max_abs, limit) << name;
    EXPECT_GT(max_abs, 0.8 * limit) << name << ": values do not fill the range";
    EXPECT_LT(std::fabs(sum / values.size()), 0.2 * limit) << name << ": not centred";
  };
  check_uniform("conv.weight", 1.0, 9 * 4, 9 * 8);
  check_uniform("zero_conv.weight", 1e-10, 8, 8);
  check_uniform("linear.weight", 1.0, 10, 6);
  for (float v : to_vector(store.value("conv.bias"))) EXPECT_EQ(v, 0.0f);
  for (float v : to_vector(store.value("norm.gamma"))) EXPECT_EQ(v, 1.0f);

  const std::vector<float> table = to_vector(store.value("table.weight"));
  double sum = 0.0, squares = 0.0;
  for (float v : table) {
    sum += v;
    squares += static_cast<double>(v) * v;
  }
  const double mean = sum / table.size(), variance = squares / table.size() - mean * mean;
  EXPECT_LT(std::fabs(mean), 0.25);
  EXPECT_NEAR(variance, 1.0, 0.3);
}

TEST(ParameterStore, InitialisationIsDeterministicAndKeyedPerParameter) {
  ParameterStore first, second, other_seed, other_shapes;
  for (ParameterStore* store : {&first, &second, &other_seed}) declare_small_model(*store);
  declare_small_model(other_shapes, /*first_width=*/7);  // changes every later offset, not the indices
  for (ParameterStore* store : {&first, &second, &other_seed, &other_shapes}) store->finalize(Device::CPU);
  first.initialize(42);
  second.initialize(42);
  other_seed.initialize(43);
  other_shapes.initialize(42);

  EXPECT_EQ(to_vector(first.params()), to_vector(second.params()));
  EXPECT_NE(to_vector(first.value("conv.weight")), to_vector(other_seed.value("conv.weight")));
  // Parameter i draws from stream i whatever the shapes of the others.
  EXPECT_EQ(to_vector(first.value("linear.weight")), to_vector(other_shapes.value("linear.weight")));
  EXPECT_EQ(to_vector(first.value("table.weight")), to_vector(other_shapes.value("table.weight")));
  // Re-initialising overwrites everything.
  first.initialize(43);
  EXPECT_EQ(to_vector(first.params()), to_vector(other_seed.params()));
}

// Golden values from an independent Python Philox4x32-10: parameter 1 of seed 7
// is stream (7, kPurposeInit, 0, 1) mapped to U(-limit, limit), limit = sqrt(3 / ((2 + 4) / 2)) = 1.
TEST(ParameterStore, InitialisationMatchesIndependentlyComputedValues) {
  ParameterStore store;
  store.declare("first.bias", {3}, {InitRule::kZeros});
  store.declare("second.weight", {4, 1, 1, 2}, {InitRule::kFanAvgUniform, 1.0f});
  store.finalize(Device::CPU);
  store.initialize(7);
  const std::vector<float> expected = {-0.500211895f, 0.56266737f,   0.266422033f, -0.280036747f,
                                       0.50421524f,   -0.203142941f, 0.380756378f, -0.453791559f};
  const std::vector<float> actual = to_vector(store.value("second.weight"));
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_FLOAT_EQ(actual[i], expected[i]) << i;
}

// The compute copy (bf16 here) holds the product weights (declared kRounded) rounded to nearest even, each on a
// 16-byte boundary, from initialize() on; it follows the weights only when update_compute_copy() is called, so
// products read them as they were at the step's start. Biases, norms and tables have no copy.
TEST(ParameterStore, ComputeCopyHoldsTheProductWeightsRoundedWhenUpdated) {
  ParameterStore store;
  store.declare("conv.weight", {5, 3, 3, 1}, {InitRule::kFanAvgUniform, 1.0f}, ComputeCopy::kRounded);
  store.declare("conv.bias", {5}, {InitRule::kZeros});
  store.declare("norm.gamma", {8}, {InitRule::kOnes});
  store.declare("linear.weight", {6, 10}, {InitRule::kFanAvgUniform, 1.0f}, ComputeCopy::kRounded);
  store.set_compute_dtype(DType::BF16);
  store.finalize(Device::CPU);
  ASSERT_TRUE(store.compute_params().defined());
  EXPECT_EQ(store.compute_params().dtype(), DType::BF16);
  EXPECT_EQ(store.compute_params().numel(), 45 + 3 + 60);  // the 3 bf16 of padding align the second weight

  const auto widened = [](const Tensor& copy) { return to_vector(testing::cast_to(copy, DType::F32)); };
  const auto expect_rounded_weights = [&](const std::string& when) {
    for (const char* name : {"conv.weight", "linear.weight"}) {
      const Parameter& parameter = store.get(name);
      ASSERT_EQ(parameter.compute.shape(), parameter.shape) << name;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(parameter.compute.raw()) % 16, 0u) << name;
      const std::vector<float> values = to_vector(parameter.value), copy = widened(parameter.compute);
      for (size_t j = 0; j < values.size(); ++j)
        ASSERT_EQ(copy[j], bf16_to_float(float_to_bf16(values[j]))) << name << "[" << j << "] " << when;
    }
  };
  store.initialize(3);
  expect_rounded_weights("after initialize()");
  EXPECT_FALSE(store.get("conv.bias").compute.defined());
  EXPECT_FALSE(store.get("norm.gamma").compute.defined());

  const std::vector<float> before = widened(store.compute_params());
  ops::scale(store.params(), 2.0f, store.params());
  EXPECT_EQ(widened(store.compute_params()), before) << "the copy follows the weights only when updated";
  store.update_compute_copy();
  expect_rounded_weights("after update_compute_copy()");
}

TEST(ParameterStore, Fp32StoreKeepsNoComputeCopy) {
  ParameterStore store;
  declare_small_model(store);
  store.finalize(Device::CPU);
  EXPECT_FALSE(store.compute_params().defined());
  EXPECT_FALSE(store.at(0).compute.defined());
  store.update_compute_copy();  // nothing to do
  EXPECT_THROW(store.set_compute_dtype(DType::BF16), Error) << "after finalize()";
  ParameterStore integers;
  EXPECT_THROW(integers.set_compute_dtype(DType::I32), Error);
}

}  // namespace
}  // namespace diffuse::model
