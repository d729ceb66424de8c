// The fixture of the end-to-end trainer tests: real Fashion-MNIST (the Debian
// package's test split, converted once per suite) and configs/tiny.yaml.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/convert.h"
#include "distributed/communicator.h"
#include "run/config.h"
#include "tests/support/op_testing.h"

namespace diffuse {

class TrainingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = std::filesystem::temp_directory_path() / ("diffuse-training-" + std::to_string(::getpid()));
    std::filesystem::create_directories(root_);
    IdxConversion conversion;
    conversion.images_path = std::string(kFashionMnistDirectory) + "/t10k-images-idx3-ubyte.gz";
    conversion.labels_path = std::string(kFashionMnistDirectory) + "/t10k-labels-idx1-ubyte.gz";
    conversion.output_path = (root_ / "fmnist-test.h5").string();
    conversion.num_classes = 10;
    convert_idx(conversion);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(root_); }

  // configs/tiny.yaml on the converted data, with overrides.
  static Config tiny(std::vector<std::string> overrides = {}) {
    overrides.insert(overrides.begin(), "data.train=" + (root_ / "fmnist-test.h5").string());
    return load_config(std::string(DIFFUSE_SOURCE_DIR) + "/configs/tiny.yaml", overrides);
  }
  static std::string run_dir(const std::string& name) { return (root_ / name).string(); }

  inline static std::filesystem::path root_;
  SingleProcessCommunicator communicator_;
};

}  // namespace diffuse
