// Temporary directories, indexed synthetic datasets and the shared Fashion-MNIST conversion.
#include "data_testing.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/error.h"
#include "data/convert.h"
#include "data/dataset_writer.h"
#include "tests/support/op_testing.h"

namespace diffuse::testing {

TempDir::TempDir() {
  char pattern[] = "/tmp/diffuse-data-test-XXXXXX";
  const char* created = ::mkdtemp(pattern);
  if (created == nullptr) throw Error("mkdtemp failed");
  path_ = created;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void expect_error_mentions(const std::function<void()>& action, const std::vector<std::string>& parts) {
  const std::string message = error_message(action);
  for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
}

bool file_exists(const std::string& path) { return std::filesystem::exists(path); }

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> list_directory(const std::string& path) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(path)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

void write_indexed_dataset(const std::string& path, int64_t count, int64_t height, int64_t width, int64_t channels,
                           int64_t num_classes) {
  DatasetInfo info;
  info.count = count;
  info.height = height;
  info.width = width;
  info.channels = channels;
  info.num_classes = num_classes;
  info.has_labels = num_classes > 0;
  info.source = "indexed test dataset";
  const int64_t image_bytes = info.image_bytes();
  std::vector<uint8_t> images(static_cast<size_t>(count * image_bytes), 0);
  std::vector<int32_t> labels(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    uint8_t* image = images.data() + i * image_bytes;
    for (int64_t column : {int64_t{0}, width - 1}) {
      image[column * channels] = static_cast<uint8_t>(i % 256);
      image[(column + (column == 0 ? 1 : -1)) * channels] = static_cast<uint8_t>(i / 256);
    }
    image[width * channels] = 255;  // row 1, column 0: the flip marker
    labels[i] = num_classes > 0 ? static_cast<int32_t>(i % num_classes) : 0;
  }
  write_dataset_file(path, info, images.data(), info.has_labels ? labels.data() : nullptr, Overwrite::Refuse);
}

namespace {
int64_t byte_of(float value) { return std::lround((value + 1.0f) * 127.5f); }
}  // namespace

int64_t indexed_sample(const float* image, int64_t width, int64_t channels) {
  const int64_t low = byte_of(image[0]), high = byte_of(image[channels]);
  EXPECT_EQ(low, byte_of(image[(width - 1) * channels])) << "index pixels must survive flips";
  return high * 256 + low;
}

bool indexed_is_flipped(const float* image, int64_t width, int64_t channels) {
  const float* row1 = image + width * channels;
  return byte_of(row1[(width - 1) * channels]) == 255 && byte_of(row1[0]) == 0;
}

namespace {
struct FashionMnistConversion {
  TempDir directory;
  double seconds = 0;
  FashionMnistConversion() {
    const auto start = std::chrono::steady_clock::now();
    convert_fashion_mnist(kFashionMnistDirectory, directory.path(), Overwrite::Refuse);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

FashionMnistConversion& fashion_mnist_conversion() {
  static FashionMnistConversion conversion;
  return conversion;
}
}  // namespace

const std::string& fashion_mnist_directory() { return fashion_mnist_conversion().directory.path(); }
double fashion_mnist_conversion_seconds() { return fashion_mnist_conversion().seconds; }

std::string fashion_mnist_source(const std::string& name) {
  const std::string path = std::string(kFashionMnistDirectory) + "/" + name;
  return file_exists(path) ? path : std::string();
}

}  // namespace diffuse::testing
