// Evaluation test helpers.
#include "tests/eval/eval_testing.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/philox.h"
#include "data/convert.h"
#include "data/dataset.h"
#include "data/dataset_writer.h"

namespace diffuse::eval::testing {

namespace fs = std::filesystem;

const std::string& scratch_directory() {
  static const std::string directory = [] {
    const fs::path path = fs::temp_directory_path() / ("diffuse-eval-" + std::to_string(::getpid()));
    fs::create_directories(path);
    std::atexit([] { fs::remove_all(fs::temp_directory_path() / ("diffuse-eval-" + std::to_string(::getpid()))); });
    return path.string();
  }();
  return directory;
}

const std::string& fashion_mnist_test() {
  static const std::string path = [] {
    IdxConversion conversion;
    conversion.images_path = std::string(kFashionMnistDirectory) + "/t10k-images-idx3-ubyte.gz";
    conversion.labels_path = std::string(kFashionMnistDirectory) + "/t10k-labels-idx1-ubyte.gz";
    conversion.output_path = scratch_directory() + "/fmnist-test.h5";
    conversion.num_classes = 10;
    convert_idx(conversion);
    return conversion.output_path;
  }();
  return path;
}

const std::string& fashion_mnist_subset() {
  static const std::string path = [] {
    constexpr int64_t kCount = 300;
    const DatasetReader reader(fashion_mnist_test());
    DatasetInfo info = reader.info();
    info.count = kCount;
    std::vector<uint8_t> pixels(static_cast<size_t>(kCount * info.image_bytes()));
    reader.read_range(0, kCount, pixels.data());
    const std::string output = scratch_directory() + "/fmnist-subset.h5";
    write_dataset_file(output, info, pixels.data(), reader.labels().data(), Overwrite::Replace);
    return output;
  }();
  return path;
}

std::string write_random_dataset(const std::string& name, int64_t count, int64_t size, int64_t channels,
                                 int64_t num_classes, uint64_t seed) {
  DatasetInfo info;
  info.count = count;
  info.height = info.width = size;
  info.channels = channels;
  info.has_labels = num_classes > 0;
  info.num_classes = num_classes;
  info.source = "eval test";
  std::vector<uint8_t> pixels(static_cast<size_t>(count * size * size * channels));
  const RandomStream stream{seed, 3, 0, 0};
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(random_uniform(stream, i) * 256.0f);
  std::vector<int32_t> labels(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) labels[i] = num_classes > 0 ? static_cast<int32_t>(i % num_classes) : 0;
  const std::string path = scratch_directory() + "/" + name;
  write_dataset_file(path, info, pixels.data(), num_classes > 0 ? labels.data() : nullptr, Overwrite::Replace);
  return path;
}

TestClassifier::TestClassifier(const ClassifierSpec& spec, uint64_t seed) : classifier(spec, store) {
  store.finalize(Device::CPU);
  store.initialize(seed);
}

}  // namespace diffuse::eval::testing
