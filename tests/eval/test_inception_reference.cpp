// The FID Inception-v3 against an independent PyTorch build of pytorch-fid's
// network (tests/reference/make_inception_fixture.py, float64): the weights
// come from the fixture's seeded formula, reproduced here; their SHA-256
// must equal what the converter script computed from the PyTorch state dict
// (names, layouts and digest agree), and the 2048-d features of RGB and
// grayscale images must match.
//
// Tolerance: |ours - reference| <= 2e-3 * max|reference| per image. Our fp32
// path runs ~50 layers with GEMMs over up to 3x3x448 products, a 299x299
// resize and folded BatchNorm; measured differences are far below this.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "eval/feature_network.h"
#include "eval/inception.h"
#include "io/hdf5.h"

namespace diffuse::eval {
namespace {

uint64_t fnv1a64(const std::string& text) {
  uint64_t value = 0xCBF29CE484222325ull;
  for (unsigned char byte : text) value = (value ^ byte) * 0x100000001B3ull;
  return value;
}

uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The fixture script's formula for weight `name` with diffuse's shape.
Tensor formula_weight(const std::string& name, const Shape& shape, uint64_t seed) {
  Tensor tensor = Tensor::empty(shape);
  const uint64_t base = fnv1a64(name) + seed;
  double scale = 1.0, offset = 0.0;
  const auto ends_with = [&](const char* suffix) {
    const std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with("conv.weight")) {
    scale = std::sqrt(6.0 / static_cast<double>(shape[1] * shape[2] * shape[3]));
  } else if (ends_with("bn.weight")) {
    scale = 0.2, offset = 1.0;
  } else if (ends_with("bn.running_var")) {
    scale = 0.5, offset = 1.0;
  } else {
    scale = 0.1;  // bn.bias, bn.running_mean
  }
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    const double u =
        static_cast<double>(splitmix64(base + static_cast<uint64_t>(i)) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
    tensor.f32()[i] = static_cast<float>(offset + scale * u);
  }
  return tensor;
}

// Shapes of the formula weights: conv [out,kh,kw,in] from the architecture, BatchNorm vectors [out].
WeightMap formula_weights(uint64_t seed);

class InceptionReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const Hdf5File fixture = Hdf5File::open(DIFFUSE_INCEPTION_FIXTURE);
    seed_ = static_cast<uint64_t>(fixture.int_attribute("seed"));
    sha256_ = fixture.string_attribute("weights_sha256");
    FeatureFile file;
    file.info = inception_info();
    file.weights = formula_weights(seed_);
    file.info.weights_sha256 = weights_sha256(file.weights);
    computed_sha256_ = file.info.weights_sha256;
    network_ = new InceptionNetwork(file);
  }
  static void TearDownTestSuite() { delete network_; }

  static void expect_features(const std::string& images_name, const std::string& features_name) {
    const Hdf5File fixture = Hdf5File::open(DIFFUSE_INCEPTION_FIXTURE);
    const Tensor images = from_vector(fixture.read_floats(images_name), fixture.dataset_shape(images_name));
    const std::vector<double> expected = fixture.read_doubles(features_name);
    const Tensor features = extract_features(*network_, images, 4);
    ASSERT_EQ(features.numel(), static_cast<int64_t>(expected.size()));
    for (int64_t n = 0; n < features.dim(0); ++n) {
      double largest = 0.0, worst = 0.0;
      for (int64_t i = 0; i < kInceptionFeatures; ++i)
        largest = std::max(largest, std::fabs(expected[n * kInceptionFeatures + i]));
      for (int64_t i = 0; i < kInceptionFeatures; ++i)
        worst = std::max(worst,
                         std::fabs(features.f32()[n * kInceptionFeatures + i] - expected[n * kInceptionFeatures + i]));
      EXPECT_LT(worst, 2e-3 * largest) << images_name << " image " << n << ": worst difference " << worst
                                       << ", largest reference feature " << largest;
      EXPECT_GT(largest, 0.1) << "degenerate fixture";
    }
  }

  static uint64_t seed_;
  static std::string sha256_, computed_sha256_;
  static InceptionNetwork* network_;
};

uint64_t InceptionReference::seed_ = 0;
std::string InceptionReference::sha256_, InceptionReference::computed_sha256_;
InceptionNetwork* InceptionReference::network_ = nullptr;

WeightMap formula_weights(uint64_t seed) {
  // Every weight name the network reads; conv shapes follow from the torchvision architecture.
  WeightMap weights;
  for (const auto& [conv, shape] : inception_conv_shapes()) {
    weights[conv + ".conv.weight"] = formula_weight(conv + ".conv.weight", shape, seed);
    for (const char* part : {".bn.weight", ".bn.bias", ".bn.running_mean", ".bn.running_var"})
      weights[conv + part] = formula_weight(conv + part, {shape[0]}, seed);
  }
  return weights;
}

TEST_F(InceptionReference, WeightsHashLikeTheConvertedStateDict) { EXPECT_EQ(computed_sha256_, sha256_); }

TEST_F(InceptionReference, RgbFeaturesMatchPyTorch) { expect_features("/rgb_images", "/rgb_features"); }

TEST_F(InceptionReference, GrayscaleIsReplicatedToRgb) { expect_features("/gray_images", "/gray_features"); }

}  // namespace
}  // namespace diffuse::eval
