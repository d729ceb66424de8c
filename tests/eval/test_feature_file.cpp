// Feature network files (SHA-256 known answers, round trip, tamper
// detection), the image-shape and reference-shape errors, and the cached
// reference statistics (reused, and recomputed when the dataset changes).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>

#include "distributed/communicator.h"
#include "eval/classifier.h"
#include "eval/classifier_network.h"
#include "eval/evaluation.h"
#include "eval/feature_network.h"
#include "eval/reference_features.h"
#include "io/hdf5.h"
#include "io/sha256.h"
#include "tests/eval/eval_testing.h"
#include "tests/support/op_testing.h"

namespace diffuse::eval {
namespace {

std::string sha256_of(const std::string& text) {
  Sha256 hash;
  hash.update(text);
  return hash.hex_digest();
}

TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(sha256_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Fed in pieces that straddle block boundaries: the same digest.
  const std::string text(1000, 'x');
  Sha256 pieces;
  for (size_t at = 0; at < text.size(); at += 37) pieces.update(text.substr(at, 37));
  EXPECT_EQ(pieces.hex_digest(), sha256_of(text));
}

// 16x16x1 images, 4 classes, widths 8 and 16, 12 features, 4 groups.
const ClassifierSpec kSmallSpec{16, 1, 4, {8, 16}, 12, 4};

// A randomly initialised classifier written as a feature file; returns the file's path.
std::string write_small_classifier(const std::string& name, uint64_t seed) {
  const testing::TestClassifier small(kSmallSpec, seed);
  FeatureNetworkInfo info = classifier_info(kSmallSpec);
  info.test_accuracy = 0.25;
  const std::string path = testing::scratch_directory() + "/" + name;
  write_feature_file(path, info, parameter_weights(small.store));
  return path;
}

TEST(FeatureFile, RoundTripKeepsWeightsAndHash) {
  const std::string path = write_small_classifier("round-trip.h5", 5);
  const FeatureFile file = read_feature_file(path);
  EXPECT_EQ(file.info.kind, kClassifierKind);
  EXPECT_EQ(file.info.image_size, 16);
  EXPECT_EQ(file.info.feature_dim, 12);
  EXPECT_EQ(file.info.channels, (std::vector<int64_t>{8, 16}));
  EXPECT_DOUBLE_EQ(file.info.test_accuracy, 0.25);
  EXPECT_EQ(file.info.weights_sha256, weights_sha256(file.weights));
  EXPECT_EQ(file.info.weights_sha256.size(), 64u);
  // Another initialisation hashes differently.
  EXPECT_NE(read_feature_file(write_small_classifier("other.h5", 6)).info.weights_sha256, file.info.weights_sha256);

  // The network built from the file computes what the original classifier computes.
  testing::TestClassifier original(kSmallSpec, 5);
  const Tensor images = diffuse::testing::random_tensor({3, 16, 16, 1}, 8);
  original.classifier.forward(images);
  ClassifierNetwork loaded(file);
  Tensor features = Tensor::empty({3, 12}), logits = Tensor::empty({3, 4});
  loaded.compute(images, features, logits);
  EXPECT_EQ(to_vector(features), to_vector(original.classifier.features()));
}

TEST(FeatureFile, ModifiedWeightsAreDetected) {
  const FeatureFile good = read_feature_file(write_small_classifier("good.h5", 5));
  const std::string path = testing::scratch_directory() + "/tampered.h5";
  {
    Hdf5File file = Hdf5File::create(path);
    for (const auto& [name, tensor] : good.weights) {
      std::vector<float> values = to_vector(tensor);
      if (name == "head.bias") values[0] += 1e-3f;
      file.write("/params/" + name, tensor.shape(), values.data());
    }
    file.set_attribute("kind", good.info.kind);
    file.set_attribute("architecture", good.info.architecture);
    file.set_attribute("weights_sha256", good.info.weights_sha256);
    file.set_attribute("format_version", int64_t{1});
    for (const char* key : {"image_size", "image_channels", "feature_dim", "num_classes"})
      file.set_attribute(key, int64_t{4});
    file.commit();
  }
  const std::string message = diffuse::testing::error_message([&] { read_feature_file(path); });
  EXPECT_NE(message.find("the file is corrupt or was modified"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(FeatureFile, NotAFeatureFileIsRejected) {
  const std::string dataset = testing::write_random_dataset("not-features.h5", 4, 8, 1, 0, 1);
  const std::string message = diffuse::testing::error_message([&] { read_feature_file(dataset); });
  EXPECT_NE(message.find("not a feature network file"), std::string::npos) << message;
}

TEST(FeatureFile, ImagesOfAnotherShapeAreRejected) {
  const FeatureNetworkInfo info = read_feature_file(write_small_classifier("shape.h5", 5)).info;
  std::string message =
      diffuse::testing::error_message([&] { check_image_shape(info, "F.h5", 32, 32, 1, "the samples of C"); });
  EXPECT_NE(message.find("feature network F.h5 takes 16x16x1 images but the samples of C are 32x32x1"),
            std::string::npos)
      << message;
  message = diffuse::testing::error_message([&] { check_image_shape(info, "F.h5", 16, 16, 3, "the samples of C"); });
  EXPECT_NE(message.find("are 16x16x3"), std::string::npos) << message;
  message =
      diffuse::testing::error_message([&] { check_reference_shape("ref.h5", 28, 28, 1, 32, 1, "the samples of C"); });
  EXPECT_NE(message.find("reference set ref.h5 has 28x28x1 images but the samples of C are 32x32x1"), std::string::npos)
      << message;
}

TEST(ReferenceFeatures, CachedByNetworkAndRecomputedWhenTheDatasetChanges) {
  const std::string network_path = write_small_classifier("cache-net.h5", 5);
  std::unique_ptr<FeatureNetwork> network = load_feature_network(network_path);
  const std::string dataset = testing::write_random_dataset("reference.h5", 40, 16, 1, 4, 2);
  SingleProcessCommunicator communicator;
  const ReferenceFeatures first = reference_features(*network, network_path, dataset, communicator, 16);
  EXPECT_FALSE(first.from_cache);
  EXPECT_EQ(first.cache_path, dataset + "." + network->info().weights_sha256.substr(0, 16) + ".stats.h5");
  EXPECT_TRUE(std::filesystem::exists(first.cache_path));
  const ReferenceFeatures second = reference_features(*network, network_path, dataset, communicator, 7);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(to_vector(second.features), to_vector(first.features));

  // Rewriting the dataset (other content, newer mtime) makes the cache stale.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  testing::write_random_dataset("reference.h5", 40, 16, 1, 4, 3);
  const ReferenceFeatures third = reference_features(*network, network_path, dataset, communicator, 16);
  EXPECT_FALSE(third.from_cache);
  EXPECT_NE(to_vector(third.features), to_vector(first.features));

  // A reference set of another image shape is an error naming it.
  const std::string wrong = testing::write_random_dataset("reference-rgb.h5", 40, 16, 3, 4, 2);
  const std::string message =
      diffuse::testing::error_message([&] { reference_features(*network, network_path, wrong, communicator, 16); });
  EXPECT_NE(message.find("the images of reference set " + wrong + " are 16x16x3"), std::string::npos) << message;
}

}  // namespace
}  // namespace diffuse::eval
