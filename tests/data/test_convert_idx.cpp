// IDX and Fashion-MNIST conversion, on the real Fashion-MNIST files of the
// Debian package dataset-fashion-mnist and on broken copies of them.
#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/convert.h"
#include "data/dataset.h"
#include "data_testing.h"

namespace diffuse {
namespace {

using testing::expect_error_mentions;
using testing::fashion_mnist_directory;
using testing::fashion_mnist_source;
using testing::TempDir;

// The decompressed bytes of a .gz file, read with zlib directly (independently of the converter).
std::vector<uint8_t> gunzip(const std::string& path) {
  std::vector<uint8_t> bytes;
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return bytes;
  uint8_t buffer[1 << 16];
  for (int got; (got = gzread(file, buffer, sizeof(buffer))) > 0;) bytes.insert(bytes.end(), buffer, buffer + got);
  gzclose(file);
  return bytes;
}

class FashionMnist : public ::testing::Test {
 protected:
  void SetUp() override {
    if (fashion_mnist_source("train-images-idx3-ubyte.gz").empty()) {
      GTEST_SKIP() << "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)";
    }
  }
};

TEST_F(FashionMnist, SplitsHaveTheRightCountsShapeAndClasses) {
  const std::array<std::pair<const char*, int64_t>, 2> splits = {{{"train.h5", 60000}, {"test.h5", 10000}}};
  for (const auto& [name, count] : splits) {
    DatasetReader reader(fashion_mnist_directory() + "/" + name);
    EXPECT_EQ(reader.info().count, count) << name;
    EXPECT_EQ(reader.info().height, 32);
    EXPECT_EQ(reader.info().width, 32);
    EXPECT_EQ(reader.info().channels, 1);
    EXPECT_EQ(reader.info().num_classes, 10);
    EXPECT_NE(reader.info().source.find("Fashion-MNIST"), std::string::npos) << reader.info().source;
    // Fashion-MNIST is balanced: 6000 (train) or 1000 (test) images per class.
    std::vector<int64_t> per_class(10, 0);
    for (int32_t label : reader.labels()) per_class[label]++;
    for (int label = 0; label < 10; ++label) EXPECT_EQ(per_class[label], count / 10) << name << " class " << label;
  }
  RecordProperty("conversion_seconds", std::to_string(testing::fashion_mnist_conversion_seconds()));
  std::printf("Fashion-MNIST conversion (train + test): %.2f s\n", testing::fashion_mnist_conversion_seconds());
}

TEST_F(FashionMnist, ImagesAreTheIdxBytesWithZeroBorders) {
  const std::vector<uint8_t> idx = gunzip(fashion_mnist_source("train-images-idx3-ubyte.gz"));
  const std::vector<uint8_t> idx_labels = gunzip(fashion_mnist_source("train-labels-idx1-ubyte.gz"));
  ASSERT_EQ(idx.size(), 16u + 60000u * 784u);
  DatasetReader reader(fashion_mnist_directory() + "/train.h5");
  std::vector<uint8_t> all(60000 * 1024);
  reader.read_range(0, 60000, all.data());

  int64_t nonzero_border = 0;
  for (int64_t n = 0; n < 60000; ++n) {
    const uint8_t* image = all.data() + n * 1024;
    for (int64_t y = 0; y < 32; ++y) {
      for (int64_t x = 0; x < 32; ++x) {
        const bool border = y < 2 || y >= 30 || x < 2 || x >= 30;
        if (border) nonzero_border += image[y * 32 + x] != 0;
      }
    }
  }
  EXPECT_EQ(nonzero_border, 0);
  for (int64_t n : {0, 1, 12345, 59999}) {
    const uint8_t* image = all.data() + n * 1024;
    for (int64_t y = 0; y < 28; ++y) {
      for (int64_t x = 0; x < 28; ++x) {
        ASSERT_EQ(image[(y + 2) * 32 + x + 2], idx[16 + n * 784 + y * 28 + x])
            << "image " << n << " at " << y << "," << x;
      }
    }
    EXPECT_EQ(reader.labels()[n], idx_labels[8 + n]) << "image " << n;
  }
}

TEST_F(FashionMnist, UncompressedIdxGivesTheSameDataset) {
  TempDir directory;
  testing::write_bytes(directory.file("images"), gunzip(fashion_mnist_source("t10k-images-idx3-ubyte.gz")));
  testing::write_bytes(directory.file("labels"), gunzip(fashion_mnist_source("t10k-labels-idx1-ubyte.gz")));
  IdxConversion conversion;
  conversion.images_path = directory.file("images");
  conversion.labels_path = directory.file("labels");
  conversion.output_path = directory.file("test.h5");
  const ConvertedFile converted = convert_idx(conversion);
  EXPECT_EQ(converted.info.num_classes, 10) << "largest label + 1";

  DatasetReader ours(conversion.output_path), reference(fashion_mnist_directory() + "/test.h5");
  std::vector<uint8_t> a(10000 * 1024), b(10000 * 1024);
  ours.read_range(0, 10000, a.data());
  reference.read_range(0, 10000, b.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(ours.labels(), reference.labels());
}

TEST_F(FashionMnist, PadToZeroKeepsTheSize) {
  TempDir directory;
  IdxConversion conversion;
  conversion.images_path = fashion_mnist_source("t10k-images-idx3-ubyte.gz");
  conversion.output_path = directory.file("raw.h5");
  conversion.pad_to = 0;
  convert_idx(conversion);
  DatasetReader reader(conversion.output_path);
  EXPECT_EQ(reader.info().height, 28);
  EXPECT_FALSE(reader.info().has_labels);
}

TEST_F(FashionMnist, ExistingOutputIsNotOverwritten) {
  TempDir directory;
  testing::write_bytes(directory.file("test.h5"), {'k', 'e', 'e', 'p'});
  expect_error_mentions([&] { convert_fashion_mnist(kFashionMnistDirectory, directory.path(), Overwrite::Refuse); },
                        {directory.file("test.h5"), "already exists"});
  // Nothing written: not even train.h5, whose name was free.
  EXPECT_EQ(testing::list_directory(directory.path()), std::vector<std::string>{"test.h5"});
  EXPECT_EQ(testing::read_bytes(directory.file("test.h5")), (std::vector<uint8_t>{'k', 'e', 'e', 'p'}));
}

TEST_F(FashionMnist, TruncatedIdxErrorsAndWritesNothing) {
  TempDir directory;
  std::vector<uint8_t> images = gunzip(fashion_mnist_source("t10k-images-idx3-ubyte.gz"));
  images.resize(1024);
  testing::write_bytes(directory.file("cut-images"), images);
  IdxConversion conversion;
  conversion.images_path = directory.file("cut-images");
  conversion.labels_path = fashion_mnist_source("t10k-labels-idx1-ubyte.gz");
  conversion.output_path = directory.file("out.h5");
  expect_error_mentions([&] { convert_idx(conversion); }, {directory.file("cut-images"), "truncated", "10000x28x28"});
  EXPECT_EQ(testing::list_directory(directory.path()), std::vector<std::string>{"cut-images"});

  // A truncated gzip stream, and a Fashion-MNIST directory holding it.
  std::vector<uint8_t> compressed = testing::read_bytes(fashion_mnist_source("t10k-labels-idx1-ubyte.gz"));
  compressed.resize(compressed.size() / 2);
  const std::string source = directory.file("fashion");
  std::filesystem::create_directories(source);
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"}) {
    std::filesystem::create_symlink(fashion_mnist_source(name), source + "/" + name);
  }
  testing::write_bytes(source + "/t10k-labels-idx1-ubyte.gz", compressed);
  const std::string output = directory.file("converted");
  expect_error_mentions([&] { convert_fashion_mnist(source, output, Overwrite::Refuse); },
                        {source + "/t10k-labels-idx1-ubyte.gz", "truncated"});
  EXPECT_FALSE(testing::file_exists(output)) << "train.h5 must not be written when test's inputs are broken";
}

TEST_F(FashionMnist, WrongMagicAndCountMismatchErrorNameTheFile) {
  TempDir directory;
  IdxConversion conversion;
  conversion.images_path = fashion_mnist_source("train-labels-idx1-ubyte.gz");  // a label file given as images
  conversion.output_path = directory.file("out.h5");
  expect_error_mentions([&] { convert_idx(conversion); }, {conversion.images_path, "magic number 0x801"});
  conversion.images_path = fashion_mnist_source("t10k-images-idx3-ubyte.gz");
  conversion.labels_path = fashion_mnist_source("train-labels-idx1-ubyte.gz");
  expect_error_mentions([&] { convert_idx(conversion); }, {conversion.labels_path, "60000 labels", "10000 images"});
  EXPECT_TRUE(testing::list_directory(directory.path()).empty());
}

}  // namespace
}  // namespace diffuse
