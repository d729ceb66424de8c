// Helpers for the data tests: temporary directories, small synthetic
// datasets whose images say which sample they are, and Fashion-MNIST
// converted once per test process.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/dataset.h"

namespace diffuse::testing {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Fails the test unless `action` throws a diffuse::Error whose message contains every one of `parts`.
void expect_error_mentions(const std::function<void()>& action, const std::vector<std::string>& parts);

bool file_exists(const std::string& path);
std::vector<uint8_t> read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);
// Names of the entries of a directory, sorted.
std::vector<std::string> list_directory(const std::string& path);

// Image i of an indexed dataset carries i in pixels that a horizontal flip
// leaves alone (the ends of row 0) and a marker that it moves (row 1 is 255
// in column 0 and 0 elsewhere). Width must be at least 4.
void write_indexed_dataset(const std::string& path, int64_t count, int64_t height, int64_t width, int64_t channels,
                           int64_t num_classes);  // labels i % num_classes; num_classes 0 for none
int64_t indexed_sample(const float* image, int64_t width, int64_t channels);  // from pixels in [-1, 1]
bool indexed_is_flipped(const float* image, int64_t width, int64_t channels);

// Fashion-MNIST from /usr/share/datasets/fashion-mnist converted into a
// temporary directory on first use: "<dir>/train.h5" and "<dir>/test.h5".
const std::string& fashion_mnist_directory();
double fashion_mnist_conversion_seconds();

// A Debian-installed dataset file, or "" when the package is missing.
std::string fashion_mnist_source(const std::string& name);

}  // namespace diffuse::testing
