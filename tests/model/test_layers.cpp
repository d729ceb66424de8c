// ResBlock and AttentionBlock alone: every parameter gradient, the input
// gradient and (ResBlock) the time-embedding gradient against central finite
// differences of loss = sum(y * w), plus the accumulate-vs-write contract.
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "model/attention_block.h"
#include "model/res_block.h"
#include "tests/model/model_testing.h"
#include "tests/support/op_testing.h"

namespace diffuse::model {
namespace {

using testing::expect_gradient;
using testing::GradCheck;
using testing::project;
using testing::random_tensor;

Tensor copy_of(const Tensor& tensor) {
  Tensor result = Tensor::empty(tensor.shape());
  copy(tensor, result);
  return result;
}

// fp32 forward; step 1e-2 on O(1) inputs keeps rounding noise ~1e-4 and the O(step^2) truncation below 1e-3.
GradCheck layer_check() {
  GradCheck check;
  check.step = 1e-2;
  check.rtol = 2e-2;
  check.atol = 2e-3;
  check.max_elements = 12;
  return check;
}

void check_all_parameters(const ParameterStore& store, const std::function<double()>& loss) {
  for (int64_t i = 0; i < store.count(); ++i) {
    const Parameter& parameter = store.at(i);
    expect_gradient(parameter.name, parameter.value, copy_of(parameter.grad), loss, layer_check());
  }
}

struct ResBlockCase {
  int in_channels;
  int out_channels;
  float dropout;
  bool training;
  bool scale_shift_norm = false;
  Resample resample = Resample::kNone;
};

const char* resample_name(Resample resample) {
  return resample == Resample::kDown ? "_down" : resample == Resample::kUp ? "_up" : "";
}

// Readable test names in ctest (and no printing of padding bytes).
void PrintTo(const ResBlockCase& c, std::ostream* out) {
  *out << c.in_channels << "->" << c.out_channels << " dropout " << c.dropout << (c.training ? " training" : " eval")
       << (c.scale_shift_norm ? " scale-shift" : "") << resample_name(c.resample);
}

class ResBlockGradients : public ::testing::TestWithParam<ResBlockCase> {};

TEST_P(ResBlockGradients, MatchFiniteDifferences) {
  const ResBlockCase c = GetParam();
  ParameterStore store;
  ResBlock block(store, "block", {c.in_channels, c.out_channels, 24, 4, c.dropout, 3, c.scale_shift_norm, c.resample});
  store.finalize(Device::CPU);
  testing::randomize_parameters(store, 5);
  EXPECT_EQ(store.contains("block.skip.weight"), c.in_channels != c.out_channels);
  // AdaGN's projection gives a scale and a shift per channel.
  EXPECT_EQ(store.get("block.temb_proj.weight").shape,
            (Shape{c.scale_shift_norm ? 2 * c.out_channels : c.out_channels, 24}));

  const int64_t out_size = c.resample == Resample::kDown ? 2 : c.resample == Resample::kUp ? 8 : 4;
  const Tensor x = random_tensor({2, 4, 4, c.in_channels}, 11);
  const Tensor temb = random_tensor({2, 24}, 12);
  const Tensor w = random_tensor({2, out_size, out_size, c.out_channels}, 13);
  const ForwardContext context{c.training, 99, 7, 40};
  const auto loss = [&] { return project(block.forward(x, temb, context), w); };

  store.zero_grads();
  loss();
  const Tensor dx = copy_of(block.backward(w));
  const Tensor dtemb = copy_of(block.dtemb());
  expect_gradient("dx", x, dx, loss, layer_check());
  expect_gradient("dtemb", temb, dtemb, loss, layer_check());
  check_all_parameters(store, loss);
}

INSTANTIATE_TEST_SUITE_P(Blocks, ResBlockGradients,
                         ::testing::Values(ResBlockCase{8, 16, 0.0f, false},        // 1x1 skip conv
                                           ResBlockCase{16, 16, 0.0f, true},        // identity skip
                                           ResBlockCase{8, 16, 0.3f, true},         // dropout active
                                           ResBlockCase{16, 16, 0.3f, false},       // dropout off in eval
                                           ResBlockCase{8, 16, 0.0f, false, true},  // AdaGN
                                           ResBlockCase{16, 16, 0.3f, true, true},  // AdaGN with dropout
                                           ResBlockCase{16, 16, 0.0f, false, false, Resample::kDown},
                                           ResBlockCase{8, 16, 0.0f, false, false, Resample::kUp},  // resampled skip
                                           ResBlockCase{16, 16, 0.3f, true, true, Resample::kDown},
                                           ResBlockCase{16, 16, 0.0f, false, true, Resample::kUp}),
                         [](const ::testing::TestParamInfo<ResBlockCase>& info) {
                           const ResBlockCase& c = info.param;
                           return "in" + std::to_string(c.in_channels) + "_out" + std::to_string(c.out_channels) +
                                  (c.dropout > 0 ? "_dropout" : "") + (c.training ? "_training" : "_eval") +
                                  (c.scale_shift_norm ? "_scale_shift" : "") + resample_name(c.resample);
                         });

TEST(ResBlock, DropoutChangesTheOutputOnlyInTraining) {
  ParameterStore store;
  ResBlock block(store, "block", {8, 8, 16, 4, 0.5f, 0});
  store.finalize(Device::CPU);
  testing::randomize_parameters(store, 1);
  const Tensor x = random_tensor({2, 4, 4, 8}, 2), temb = random_tensor({2, 16}, 3);
  const Tensor eval = copy_of(block.forward(x, temb, {false, 1, 0, 0}));
  const Tensor train = copy_of(block.forward(x, temb, {true, 1, 0, 0}));
  const Tensor train_again = copy_of(block.forward(x, temb, {true, 1, 0, 0}));
  const Tensor other_step = copy_of(block.forward(x, temb, {true, 1, 1, 0}));
  EXPECT_NE(to_vector(eval), to_vector(train));
  EXPECT_EQ(to_vector(train), to_vector(train_again));
  EXPECT_NE(to_vector(train), to_vector(other_step));
}

class AttentionBlockGradients : public ::testing::TestWithParam<int> {};

TEST_P(AttentionBlockGradients, MatchFiniteDifferences) {
  ParameterStore store;
  AttentionBlock attention(store, "attn", {16, 4, GetParam()});
  // The parameter layout does not depend on the head count.
  EXPECT_EQ(store.get("attn.qkv.weight").shape, (Shape{48, 1, 1, 16}));
  store.finalize(Device::CPU);
  testing::randomize_parameters(store, 6);
  const Tensor x = random_tensor({2, 4, 4, 16}, 21);
  const Tensor w = random_tensor({2, 4, 4, 16}, 22);
  const auto loss = [&] { return project(attention.forward(x), w); };

  store.zero_grads();
  loss();
  const Tensor dx = copy_of(attention.backward(w));
  expect_gradient("dx", x, dx, loss, layer_check());
  check_all_parameters(store, loss);
}

INSTANTIATE_TEST_SUITE_P(Heads, AttentionBlockGradients, ::testing::Values(1, 2, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "_heads";
                         });

TEST(AttentionBlock, RejectsHeadsThatDoNotDivideTheChannels) {
  ParameterStore store;
  EXPECT_THROW(AttentionBlock(store, "attn", {12, 4, 5}), Error);
}

TEST(AttentionBlock, BackwardAccumulatesParameterGradientsAndWritesDx) {
  ParameterStore store;
  AttentionBlock attention(store, "attn", {8, 2});
  store.finalize(Device::CPU);
  testing::randomize_parameters(store, 7);
  const Tensor x = random_tensor({1, 2, 2, 8}, 1), w = random_tensor({1, 2, 2, 8}, 2);
  store.zero_grads();
  attention.forward(x);
  const Tensor dx_once = copy_of(attention.backward(w));
  const std::vector<float> grads_once = to_vector(store.grads());
  attention.forward(x);
  const Tensor dx_twice = copy_of(attention.backward(w));
  const std::vector<float> grads_twice = to_vector(store.grads());
  EXPECT_EQ(to_vector(dx_once), to_vector(dx_twice));
  for (size_t i = 0; i < grads_once.size(); ++i) ASSERT_FLOAT_EQ(grads_twice[i], 2.0f * grads_once[i]) << i;
}

}  // namespace
}  // namespace diffuse::model
