// The whole U-Net against an independent PyTorch implementation
// (tests/reference/make_unet_fixture.py, computed in float64), for DDPM's
// network and for a small one with every ADM option on: the weights are
// loaded by name, then the output and EVERY parameter gradient of
// loss = sum(output * projection) must match.
//
// Tolerance: |ours - reference| <= rtol * |reference| + atol * max|reference of that tensor|,
// rtol 1e-3, atol 1e-5. Our fp32 forward and backward lose ~1e-6 relative per
// layer (GEMMs over up to 3*3*128 terms, group-norm statistics, softmax) over
// some 40 layers, and the fixture stores gradients rounded to 12 significant
// bits (<= 2.4e-4 relative). Elements that cancel to near zero carry absolute
// error of the size of their tensor's typical terms, hence atol relative to
// the tensor's largest magnitude rather than to each element.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/matmul_precision.h"
#include "io/hdf5.h"
#include "model/unet.h"

namespace diffuse::model {
namespace {

constexpr double kRelativeTolerance = 1e-3;
constexpr double kAbsoluteTolerance = 1e-5;  // times the tensor's largest reference magnitude
// Gradients that are zero in exact arithmetic (a per-channel constant that a
// GroupNorm removes, should a spec have one channel per group) hold ~1e-14 in
// the float64 reference and fp32 roundoff here, so they are checked against
// the largest gradient of the model instead.
constexpr double kStructuralZero = 1e-9;  // reference max below this times the largest gradient
constexpr double kZeroTolerance = 1e-6;   // ours must stay below this times the largest gradient

double max_magnitude(const Tensor& tensor) {
  double result = 0.0;
  for (float v : to_vector(tensor)) result = std::max(result, std::fabs(static_cast<double>(v)));
  return result;
}

// Reads a dataset of the fixture as f32 or i32 (converting from the stored type).
Tensor read_tensor(const Hdf5File& file, const std::string& path, DType dtype = DType::F32) {
  Tensor tensor = Tensor::empty(file.dataset_shape(path), dtype);
  if (dtype == DType::I32) {
    file.read(path, tensor.i32());
  } else {
    file.read(path, tensor.f32());
  }
  return tensor;
}

// configs/tiny.yaml with dropout 0, as the fixture script builds it.
UNetSpec tiny_spec() {
  UNetSpec spec;
  spec.image_size = 32;
  spec.image_channels = 1;
  spec.channels = 32;
  spec.channel_mults = {1, 2};
  spec.num_res_blocks = 1;
  spec.attention_resolutions = {16};
  spec.dropout = 0.0f;
  spec.num_classes = 10;
  spec.groups = 8;
  return spec;
}

// make_unet_fixture.py --adm: every ADM option on, attention at both resolutions (2 heads at 16, 4 at 8).
UNetSpec tiny_adm_spec() {
  UNetSpec spec;
  spec.image_size = 16;
  spec.image_channels = 2;
  spec.channels = 8;
  spec.channel_mults = {1, 2};
  spec.num_res_blocks = 1;
  spec.attention_resolutions = {16, 8};
  spec.dropout = 0.0f;
  spec.num_classes = 3;
  spec.groups = 4;
  spec.scale_shift_norm = true;
  spec.num_head_channels = 4;
  spec.resblock_updown = true;
  return spec;
}

struct FixtureFile {
  const char* path;
  UNetSpec (*spec)();
};

const FixtureFile kDdpmFixture{DIFFUSE_UNET_FIXTURE, tiny_spec};
const FixtureFile kAdmFixture{DIFFUSE_UNET_ADM_FIXTURE, tiny_adm_spec};

struct Comparison {
  double worst_ratio = 0.0;   // max over elements of error / allowed (<= 1 passes)
  double max_relative = 0.0;  // max error / max|reference|
  int64_t worst_element = -1;
};

Comparison compare(const Tensor& actual, const Tensor& expected) {
  const std::vector<float> a = to_vector(actual), e = to_vector(expected);
  double scale = 0.0;
  for (float v : e) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  Comparison result;
  for (size_t i = 0; i < a.size(); ++i) {
    const double error = std::fabs(static_cast<double>(a[i]) - e[i]);
    const double allowed = kRelativeTolerance * std::fabs(static_cast<double>(e[i])) + kAbsoluteTolerance * scale;
    const double ratio = allowed > 0.0 ? error / allowed : (error > 0.0 ? INFINITY : 0.0);
    if (!(ratio <= result.worst_ratio)) {
      result.worst_ratio = ratio;
      result.worst_element = static_cast<int64_t>(i);
    }
    if (scale > 0.0) result.max_relative = std::max(result.max_relative, error / scale);
  }
  return result;
}

// The fixture's model with its weights loaded by name, and its inputs. Every fixture parameter must exist in the
// model with the same shape, and vice versa.
struct Fixture {
  ParameterStore store;
  std::unique_ptr<UNet> unet;
  Tensor x, t, labels, projection, output;
  std::vector<Tensor> gradients;  // in the store's order
};

void load_fixture(Fixture& fixture, const FixtureFile& source) {
  const Hdf5File file = Hdf5File::open(source.path);

  const UNetSpec spec = source.spec();
  ASSERT_EQ(file.int_attribute("image_size"), spec.image_size);
  ASSERT_EQ(file.int_attribute("channels"), spec.channels);
  ASSERT_EQ(file.int_attribute("num_classes"), spec.num_classes);
  ParameterStore& store = fixture.store;
  fixture.unet = std::make_unique<UNet>(spec, store);
  store.finalize(Device::CPU);
  ASSERT_EQ(file.int_attribute("parameter_count"), store.numel());

  const std::vector<std::string> names = file.names_in("/params");
  ASSERT_EQ(static_cast<int64_t>(names.size()), store.count()) << "the fixture and the model have different parameters";
  for (const std::string& name : names) {
    ASSERT_TRUE(store.contains(name)) << "fixture parameter '" << name << "' is not in the model";
    const Tensor values = read_tensor(file, "/params/" + name);
    ASSERT_EQ(values.shape(), store.get(name).shape)
        << name << ": fixture " << shape_string(values.shape()) << ", model " << shape_string(store.get(name).shape);
    copy(values, store.value(name));
  }

  fixture.x = read_tensor(file, "/x");
  fixture.t = read_tensor(file, "/t");
  fixture.labels = read_tensor(file, "/labels", DType::I32);
  fixture.projection = read_tensor(file, "/projection");
  ASSERT_EQ(fixture.labels.i32()[1], spec.num_classes) << "the fixture should exercise the no-class row";
  fixture.output = read_tensor(file, "/output");
  for (int64_t i = 0; i < store.count(); ++i)
    fixture.gradients.push_back(read_tensor(file, "/grads/" + store.at(i).name));
}

void expect_matches_reference(const FixtureFile& source) {
  Fixture fixture;
  ASSERT_NO_FATAL_FAILURE(load_fixture(fixture, source));
  ParameterStore& store = fixture.store;
  UNet& unet = *fixture.unet;
  store.zero_grads();
  const Tensor output = unet.forward(fixture.x, fixture.t, fixture.labels, ForwardContext{false, 0, 0, 0});
  const Comparison out = compare(output, fixture.output);
  EXPECT_LE(out.worst_ratio, 1.0) << "output: element " << out.worst_element;
  std::printf("output: max |error| / max|reference| = %.3g, worst error / allowed = %.3g\n", out.max_relative,
              out.worst_ratio);

  unet.backward(fixture.projection);
  const std::vector<Tensor>& references = fixture.gradients;
  double global_max = 0.0;
  for (const Tensor& reference : references) global_max = std::max(global_max, max_magnitude(reference));
  std::string worst_name;
  Comparison worst;
  double worst_zero = 0.0;
  int structural_zeros = 0;
  for (int64_t i = 0; i < store.count(); ++i) {
    const Parameter& parameter = store.at(i);
    if (max_magnitude(references[i]) < kStructuralZero * global_max) {
      ++structural_zeros;
      const double ours = max_magnitude(parameter.grad) / global_max;
      worst_zero = std::max(worst_zero, ours);
      EXPECT_LE(ours, kZeroTolerance) << "gradient of " << parameter.name << " should be zero up to roundoff";
      continue;
    }
    const Comparison grad = compare(parameter.grad, references[i]);
    EXPECT_LE(grad.worst_ratio, 1.0) << "gradient of " << parameter.name << ": element " << grad.worst_element
                                     << ", max |error| / max|reference| = " << grad.max_relative;
    if (grad.worst_ratio >= worst.worst_ratio) {
      worst = grad;
      worst_name = parameter.name;
    }
  }
  std::printf("gradients: worst is %s with max |error| / max|reference| = %.3g, worst error / allowed = %.3g\n",
              worst_name.c_str(), worst.max_relative, worst.worst_ratio);
  std::printf("%d structurally zero gradients: largest |ours| / max gradient = %.3g\n", structural_zeros, worst_zero);
}

TEST(UNetReference, MatchesPyTorchOutputAndEveryGradient) { expect_matches_reference(kDdpmFixture); }

TEST(UNetReference, AdmOptionsMatchPyTorchOutputAndEveryGradient) { expect_matches_reference(kAdmFixture); }

// With bf16 convolution products (train.precision bf16 on a CPU that has them) the whole model stays close to
// the float64 reference: bf16 keeps 8 significant bits, so each product carries ~4e-3 relative error, which
// sums of hundreds of terms average down. Bounds: 2% of each tensor's largest magnitude for the output and
// 5% for every gradient (measured: 0.8% and 1.7%).
TEST(UNetReference, Bf16ProductsStayCloseToTheReference) {
  if (!cpu_multiplies_natively(DType::BF16)) GTEST_SKIP() << "this CPU has no bf16 instructions";
  Fixture fixture;
  ASSERT_NO_FATAL_FAILURE(load_fixture(fixture, kDdpmFixture));
  const ScopedMatmulDtype bf16(DType::BF16);
  fixture.store.zero_grads();
  const Tensor output = fixture.unet->forward(fixture.x, fixture.t, fixture.labels, ForwardContext{false, 0, 0, 0});
  const Comparison out = compare(output, fixture.output);
  EXPECT_LE(out.max_relative, 2e-2);
  EXPECT_GT(out.max_relative, 1e-5) << "bf16 products should differ from fp32 ones";
  fixture.unet->backward(fixture.projection);
  double worst = 0.0, global_max = 0.0;
  for (const Tensor& reference : fixture.gradients) global_max = std::max(global_max, max_magnitude(reference));
  for (int64_t i = 0; i < fixture.store.count(); ++i) {
    if (max_magnitude(fixture.gradients[i]) < kStructuralZero * global_max) continue;  // zero up to roundoff
    const Comparison grad = compare(fixture.store.at(i).grad, fixture.gradients[i]);
    EXPECT_LE(grad.max_relative, 5e-2) << "gradient of " << fixture.store.at(i).name;
    worst = std::max(worst, grad.max_relative);
  }
  std::printf("bf16: output max |error| / max|reference| = %.3g, worst gradient %.3g\n", out.max_relative, worst);
}

}  // namespace
}  // namespace diffuse::model
