// The U-Net: the DDPM CIFAR-10 parameter count and cost, the naming scheme,
// deterministic initialisation, whole-model finite-difference gradients,
// the activation-memory estimate and world-size-invariant batch slicing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <ostream>
#include <set>
#include <string>
#include <tuple>

#include "core/allocator.h"
#include "model/unet.h"
#include "tests/model/model_testing.h"
#include "tests/support/op_testing.h"

namespace diffuse::model {
namespace {

using testing::project;
using testing::random_tensor;

Tensor copy_of(const Tensor& tensor) {
  Tensor result = Tensor::empty(tensor.shape(), tensor.dtype());
  copy(tensor, result);
  return result;
}

// 8x8x1 images, two levels (attention at 4x4 only), conditional: every kind of layer, small enough for
// finite differences over every parameter tensor.
UNetSpec small_spec(float dropout) {
  UNetSpec spec;
  spec.image_size = 8;
  spec.image_channels = 1;
  spec.channels = 16;
  spec.channel_mults = {1, 2};
  spec.num_res_blocks = 1;
  spec.attention_resolutions = {4};
  spec.dropout = dropout;
  spec.num_classes = 10;
  spec.groups = 8;
  return spec;
}

// small_spec with every ADM option: AdaGN, 2 heads of 8 channels at 8x8 and 4 at 4x4 (attention at both
// resolutions), and ResBlocks for the down- and upsampling.
UNetSpec small_adm_spec(float dropout) {
  UNetSpec spec = small_spec(dropout);
  spec.attention_resolutions = {8, 4};
  spec.scale_shift_norm = true;
  spec.num_head_channels = 8;
  spec.resblock_updown = true;
  return spec;
}

Tensor labels_of(std::vector<int32_t> values) {
  Tensor labels = Tensor::empty({static_cast<int64_t>(values.size())}, DType::I32);
  for (size_t i = 0; i < values.size(); ++i) labels.i32()[i] = values[i];
  return labels;
}

TEST(UNet, Cifar10ModelHasDdpmParameterCountAndCost) {
  ParameterStore store;
  const UNet unet(ddpm_cifar10_spec(), store);
  EXPECT_EQ(store.numel(), 35746307);
  const double gmacs = unet.forward_macs_per_image() / 1e9;
  EXPECT_GE(gmacs, 6.0);
  EXPECT_LE(gmacs, 6.25);
  RecordProperty("gmacs_per_image", std::to_string(gmacs));
  std::printf("DDPM CIFAR-10 U-Net: %lld parameters, %.4f GMACs per image, %.1f MiB of activations per image\n",
              static_cast<long long>(store.numel()), gmacs, unet.activation_bytes(1) / 1048576.0);
}

TEST(UNet, ParameterNamesFollowTheDocumentedScheme) {
  ParameterStore store;
  const UNet unet(ddpm_cifar10_spec(), store);
  std::set<std::string> names;
  int64_t offset = 0;
  for (int64_t i = 0; i < store.count(); ++i) {
    const Parameter& parameter = store.at(i);
    EXPECT_TRUE(names.insert(parameter.name).second) << "duplicate " << parameter.name;
    EXPECT_EQ(parameter.offset, offset) << parameter.name;
    offset += shape_numel(parameter.shape);
  }
  EXPECT_EQ(offset, store.numel());

  const std::vector<std::pair<std::string, Shape>> expected = {
      {"time_embed.0.weight", {512, 128}},
      {"time_embed.1.bias", {512}},
      {"conv_in.weight", {128, 3, 3, 3}},
      {"down.0.block.1.norm1.gamma", {128}},
      {"down.1.block.0.skip.weight", {256, 1, 1, 128}},
      {"down.1.attn.1.qkv.weight", {768, 1, 1, 256}},
      {"down.1.attn.1.proj.weight", {256, 1, 1, 256}},
      {"down.0.downsample.weight", {128, 3, 3, 128}},
      {"mid.block1.temb_proj.weight", {256, 512}},
      {"mid.attn.norm.beta", {256}},
      {"mid.block2.conv2.weight", {256, 3, 3, 256}},
      {"up.3.block.0.skip.weight", {256, 1, 1, 512}},
      {"up.0.block.2.conv1.weight", {128, 3, 3, 256}},
      {"up.1.attn.2.qkv.bias", {768}},
      {"up.1.upsample.weight", {256, 3, 3, 256}},
      {"out.norm.gamma", {128}},
      {"out.conv.weight", {3, 3, 3, 128}},
  };
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(store.contains(name)) << name;
    EXPECT_EQ(store.get(name).shape, shape) << name;
  }
  EXPECT_FALSE(store.contains("class_embed.weight"));
  EXPECT_FALSE(store.contains("down.3.downsample.weight"));
  EXPECT_FALSE(store.contains("up.0.upsample.weight"));
  EXPECT_FALSE(store.contains("down.0.attn.0.qkv.weight"));  // attention only at 16x16
  EXPECT_FALSE(store.contains("down.0.block.0.skip.weight"));
  // Forward order: the time embedding first, the output conv last.
  EXPECT_EQ(store.at(0).name, "time_embed.0.weight");
  EXPECT_EQ(store.at(store.count() - 1).name, "out.conv.bias");
}

TEST(UNet, ConditionalModelAddsTheClassTable) {
  UNetSpec spec = ddpm_cifar10_spec();
  spec.num_classes = 10;
  ParameterStore store;
  const UNet unet(spec, store);
  EXPECT_EQ(store.numel(), 35746307 + 11 * 512);
  EXPECT_EQ(store.get("class_embed.weight").shape, (Shape{11, 512}));
  EXPECT_EQ(store.at(4).name, "class_embed.weight");
}

TEST(UNet, RejectsBadSpecsAndInputs) {
  {
    UNetSpec spec = small_spec(0.0f);
    spec.attention_resolutions = {16};
    ParameterStore store;
    EXPECT_THROW(UNet(spec, store), Error);
  }
  {
    UNetSpec spec = small_spec(0.0f);
    spec.groups = 5;
    ParameterStore store;
    EXPECT_THROW(UNet(spec, store), Error);
  }
  ParameterStore store;
  UNet unet(small_spec(0.0f), store);
  const Tensor x = random_tensor({2, 8, 8, 1}, 1), t = random_tensor({2}, 2, 0.0f, 999.0f);
  EXPECT_THROW(unet.forward(x, t, labels_of({1, 2}), {}), Error);  // not finalized
  store.finalize(Device::CPU);
  EXPECT_THROW(unet.forward(x, t, Tensor(), {}), Error);                                        // labels missing
  EXPECT_THROW(unet.forward(random_tensor({2, 8, 8, 3}, 1), t, labels_of({1, 2}), {}), Error);  // wrong channels
  EXPECT_THROW(unet.forward(x, random_tensor({3}, 2), labels_of({1, 2}), {}), Error);           // wrong batch
  EXPECT_THROW(unet.forward(x, t, labels_of({1, 11}), {}), Error);                              // label out of range
  EXPECT_THROW(unet.backward(random_tensor({2, 8, 8, 1}, 3)), Error);                           // before forward
  EXPECT_NO_THROW(unet.forward(x, t, labels_of({1, 10}), {}));
}

TEST(UNet, InitialisationIsDeterministicAndStartsNearZeroOutput) {
  ParameterStore first, second;
  UNet a(small_spec(0.1f), first), b(small_spec(0.1f), second);
  first.finalize(Device::CPU);
  second.finalize(Device::CPU);
  first.initialize(2024);
  second.initialize(2024);
  EXPECT_EQ(to_vector(first.params()), to_vector(second.params()));

  // DDPM's near-zero layers (second conv of each ResBlock, attention projection, output conv).
  for (const char* name : {"down.0.block.0.conv2.weight", "mid.attn.proj.weight", "out.conv.weight"})
    for (float v : to_vector(first.value(name))) ASSERT_LT(std::fabs(v), 1e-5f) << name;
  const Tensor x = random_tensor({2, 8, 8, 1}, 1), t = random_tensor({2}, 2, 0.0f, 999.0f);
  for (float v : to_vector(a.forward(x, t, labels_of({3, 10}), {true, 1, 0, 0}))) ASSERT_LT(std::fabs(v), 1e-4f);
}

struct GradientCase {
  float dropout;
  bool training;
  bool adm = false;  // small_adm_spec instead of small_spec
};

void PrintTo(const GradientCase& c, std::ostream* out) {
  *out << "dropout " << c.dropout << (c.training ? " training" : " eval") << (c.adm ? " adm" : "");
}

class UNetGradients : public ::testing::TestWithParam<GradientCase> {};

// Every parameter tensor, a few elements each, against central differences of loss = sum(out * w).
TEST_P(UNetGradients, MatchFiniteDifferences) {
  const GradientCase c = GetParam();
  ParameterStore store;
  UNet unet(c.adm ? small_adm_spec(c.dropout) : small_spec(c.dropout), store);
  store.finalize(Device::CPU);
  testing::randomize_parameters(store, 17);

  const Tensor x = random_tensor({2, 8, 8, 1}, 31);
  const Tensor t = from_vector({12.0f, 730.0f}, {2});
  const Tensor labels = labels_of({4, 10});  // one real class, one "no class"
  const Tensor w = random_tensor({2, 8, 8, 1}, 32);
  const ForwardContext context{c.training, 5, 3, 100};
  const auto loss = [&] { return project(unet.forward(x, t, labels, context), w); };

  store.zero_grads();
  loss();
  unet.backward(w);
  const Tensor grads = copy_of(store.grads());

  testing::GradCheck check;
  check.step = 1e-2;
  check.rtol = 2e-2;
  check.atol = 2e-3;
  check.max_elements = 3;
  for (int64_t i = 0; i < store.count(); ++i) {
    const Parameter& parameter = store.at(i);
    const Tensor analytic =
        grads.slice(parameter.offset, parameter.offset + shape_numel(parameter.shape)).reshape(parameter.shape);
    testing::expect_gradient(parameter.name, parameter.value, analytic, loss, check);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, UNetGradients,
                         ::testing::Values(GradientCase{0.0f, false}, GradientCase{0.2f, true},
                                           GradientCase{0.0f, false, true}, GradientCase{0.2f, true, true}),
                         [](const ::testing::TestParamInfo<GradientCase>& info) {
                           return std::string(info.param.training ? "DropoutTraining" : "Eval") +
                                  (info.param.adm ? "Adm" : "");
                         });

TEST(UNet, BackwardAccumulatesIntoTheGradientBuffer) {
  ParameterStore store;
  UNet unet(small_spec(0.2f), store);
  store.finalize(Device::CPU);
  testing::randomize_parameters(store, 3);
  const Tensor x = random_tensor({2, 8, 8, 1}, 4), t = from_vector({5.0f, 50.0f}, {2});
  const Tensor labels = labels_of({0, 9}), w = random_tensor({2, 8, 8, 1}, 5);
  store.zero_grads();
  unet.forward(x, t, labels, {true, 1, 2, 3});
  unet.backward(w);
  const std::vector<float> once = to_vector(store.grads());
  unet.forward(x, t, labels, {true, 1, 2, 3});
  unet.backward(w);
  const std::vector<float> twice = to_vector(store.grads());
  for (size_t i = 0; i < once.size(); ++i)
    ASSERT_NEAR(twice[i], 2.0f * once[i], 1e-6f * (1.0f + std::fabs(once[i]))) << i;
  // Labels 0 and 9 reach only their class-table rows.
  const Parameter& table = store.get("class_embed.weight");
  for (int64_t row = 0; row < 11; ++row) {
    double magnitude = 0.0;
    for (int64_t j = 0; j < 64; ++j) magnitude += std::fabs(once[table.offset + row * 64 + j]);
    EXPECT_EQ(magnitude > 0.0, row == 0 || row == 9) << "class row " << row;
  }
}

// A small initialised U-Net (dropout 0.1) and a batch of 3 for the memory tests, which count the bytes in use.
struct MemoryCase {
  explicit MemoryCase(const UNetSpec& spec = small_spec(0.1f), DType compute_dtype = DType::F32)
      : unet(spec, store, compute_dtype) {
    store.finalize(Device::CPU);
    store.initialize(1);  // also rounds the compute copy
  }
  ParameterStore store;
  UNet unet;
  Tensor x = random_tensor({3, 8, 8, 1}, 4), t = from_vector({1.0f, 2.0f, 3.0f}, {3}), labels = labels_of({0, 1, 10});
  const Allocator& allocator = allocator_for(Device::CPU);
};

// With the ADM options or without; computing in f32 or in bf16 (maps between layers half the size, the time
// embedding, statistics, attention probabilities and the returned output f32).
class UNetMemory : public ::testing::TestWithParam<std::tuple<bool, DType>> {};

TEST_P(UNetMemory, ActivationBytesMatchWhatForwardAllocates) {
  const auto [adm, compute_dtype] = GetParam();
  MemoryCase m(adm ? small_adm_spec(0.1f) : small_spec(0.1f), compute_dtype);
  const int64_t before = m.allocator.bytes_in_use();
  Tensor out = m.unet.forward(m.x, m.t, m.labels, {true, 1, 0, 0});
  EXPECT_EQ(m.allocator.bytes_in_use() - before, m.unet.activation_bytes(3));
  // A second forward of the same shape replaces what the first kept.
  const int64_t after_first = m.allocator.bytes_in_use();
  out = m.unet.forward(m.x, m.t, m.labels, {true, 1, 1, 0});
  EXPECT_EQ(m.allocator.bytes_in_use(), after_first);
  // Without backward, forward keeps only its output and GroupNorm's per-sample statistics (a few floats per
  // sample and layer, whose buffers stay).
  const NoBackward inference;
  out = m.unet.forward(m.x, m.t, m.labels, {false, 1, 1, 0});
  const int64_t kept = m.allocator.bytes_in_use() - before;
  EXPECT_GE(kept, out.numel() * 4);
  EXPECT_LT(kept, out.numel() * 4 + m.unet.activation_bytes(3) / 20);
  EXPECT_THROW(m.unet.backward(out), Error) << "backward needs a forward that kept its activations";
}

INSTANTIATE_TEST_SUITE_P(Specs, UNetMemory,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(DType::F32, DType::BF16)),
                         [](const ::testing::TestParamInfo<std::tuple<bool, DType>>& info) {
                           return std::string(std::get<0>(info.param) ? "Adm" : "Ddpm") +
                                  dtype_name(std::get<1>(info.param));
                         });

// In bf16 the activation estimate is about half the f32 one: only the per-sample vectors, the statistics, the
// attention probabilities and the output stay f32.
TEST(UNetMemory, Bf16KeepsAboutHalfTheBytes) {
  ParameterStore fp32_store, bf16_store;
  const UNet fp32(small_spec(0.1f), fp32_store), bf16(small_spec(0.1f), bf16_store, DType::BF16);
  EXPECT_LT(bf16.activation_bytes(3), 0.6 * fp32.activation_bytes(3));
  EXPECT_GT(bf16.activation_bytes(3), 0.5 * fp32.activation_bytes(3));
}

// ADM's options are off by default and keep the DDPM network; each changes the parameters as documented.
TEST(UNet, AdmOptionsNameTheirParametersAsDocumented) {
  ParameterStore store;
  const UNet unet(small_adm_spec(0.0f), store);
  EXPECT_EQ(store.get("down.0.block.0.temb_proj.weight").shape, (Shape{32, 64}));  // scale and shift
  EXPECT_TRUE(store.contains("down.0.attn.0.qkv.weight"));                         // attention at 8x8
  EXPECT_TRUE(store.contains("down.1.attn.0.qkv.weight"));                         // and at 4x4
  EXPECT_TRUE(store.contains("down.0.downsample.norm1.gamma"));                    // a ResBlock
  EXPECT_FALSE(store.contains("down.0.downsample.weight"));
  EXPECT_TRUE(store.contains("up.1.upsample.conv2.weight"));
  EXPECT_FALSE(store.contains("up.1.upsample.weight"));
  EXPECT_FALSE(store.contains("down.0.downsample.skip.weight"));  // channels unchanged: identity skip
}

// The message of the Error that building a U-Net of `spec` throws ("" if none).
std::string construction_error(const UNetSpec& spec) {
  ParameterStore store;
  try {
    UNet unet(spec, store);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(UNet, RejectsHeadsThatDoNotFit) {
  UNetSpec spec = small_spec(0.0f);
  spec.num_head_channels = 12;  // 32 channels at 4x4
  const std::string indivisible = construction_error(spec);
  EXPECT_NE(indivisible.find("num_head_channels 12"), std::string::npos) << indivisible;
  EXPECT_NE(indivisible.find("resolution 4"), std::string::npos) << indivisible;
  spec.num_heads = 2;
  spec.num_head_channels = 8;
  const std::string both = construction_error(spec);
  EXPECT_NE(both.find("num_heads and num_head_channels"), std::string::npos) << both;
}

TEST(UNet, BackwardFreesWhatForwardKept) {
  MemoryCase m;
  const Tensor w = random_tensor({3, 8, 8, 1}, 5);
  const int64_t before = m.allocator.bytes_in_use();
  m.unet.forward(m.x, m.t, m.labels, {true, 1, 0, 0});
  m.unet.backward(w);
  // Left: the per-sample buffers that stay between steps (GroupNorm statistics, embedding gradients).
  EXPECT_LT(m.allocator.bytes_in_use() - before, m.unet.activation_bytes(3) / 20);
  EXPECT_THROW(m.unet.backward(w), Error) << "one forward serves one backward";
}

// Sample n's output depends only on its own inputs and its global index (dropout keys), so a batch and a
// slice of it starting at first_sample = 1 agree: what makes training independent of the rank count.
TEST(UNet, BatchSliceMatchesTheFullBatch) {
  ParameterStore store;
  UNet unet(small_spec(0.3f), store);
  store.finalize(Device::CPU);
  testing::randomize_parameters(store, 8);
  const Tensor x = random_tensor({3, 8, 8, 1}, 9), t = from_vector({10.0f, 500.0f, 999.0f}, {3});
  const Tensor labels = labels_of({2, 10, 7});
  const Tensor full = copy_of(unet.forward(x, t, labels, {true, 77, 4, 20}));
  const Tensor tail = copy_of(unet.forward(x.slice(1, 3), t.slice(1, 3), labels.slice(1, 3), {true, 77, 4, 21}));
  testing::expect_close(tail, full.slice(1, 3), 1e-4, 1e-5, "slice vs full batch");
}

}  // namespace
}  // namespace diffuse::model
