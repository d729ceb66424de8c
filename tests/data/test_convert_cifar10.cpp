// CIFAR-10 conversion on small synthetic batch files in the binary format:
// labels, CHW planes to HWC pixels, and files of the wrong size.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/convert.h"
#include "data/dataset.h"
#include "data_testing.h"

namespace diffuse {
namespace {

using testing::expect_error_mentions;
using testing::TempDir;

// Record r of batch b: label (b + r) % 10, channel c of pixel p is (b * 50 + r * 7 + c * 3 + p) % 256.
uint8_t pixel_value(int batch, int record, int channel, int pixel) {
  return static_cast<uint8_t>((batch * 50 + record * 7 + channel * 3 + pixel) % 256);
}

void write_batch(const std::string& path, int batch, int records) {
  std::vector<uint8_t> bytes;
  for (int r = 0; r < records; ++r) {
    bytes.push_back(static_cast<uint8_t>((batch + r) % 10));
    for (int c = 0; c < 3; ++c) {
      for (int p = 0; p < 1024; ++p) bytes.push_back(pixel_value(batch, r, c, p));
    }
  }
  testing::write_bytes(path, bytes);
}

// Batches 1..5 with 3 records each, the test batch (number 0) with 2.
void write_cifar(const std::string& directory) {
  for (int b = 1; b <= 5; ++b) write_batch(directory + "/data_batch_" + std::to_string(b) + ".bin", b, 3);
  write_batch(directory + "/test_batch.bin", 0, 2);
}

TEST(Cifar10, ConvertsPlanesToInterleavedPixelsWithLabels) {
  TempDir source, output;
  write_cifar(source.path());
  const std::vector<ConvertedFile> files = convert_cifar10(source.path(), output.path(), Overwrite::Refuse);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, output.file("train.h5"));
  EXPECT_EQ(describe_dataset(files[0].info), "15 images 32x32x3, 10 classes");

  DatasetReader train(output.file("train.h5"));
  EXPECT_EQ(train.info().count, 15);
  std::vector<uint8_t> pixels(15 * 3072);
  train.read_range(0, 15, pixels.data());
  for (int b = 1; b <= 5; ++b) {
    for (int r = 0; r < 3; ++r) {
      const int n = (b - 1) * 3 + r;
      EXPECT_EQ(train.labels()[n], (b + r) % 10);
      for (int p : {0, 1, 31, 32, 500, 1023}) {
        for (int c = 0; c < 3; ++c) {
          EXPECT_EQ(pixels[n * 3072 + p * 3 + c], pixel_value(b, r, c, p)) << "image " << n << " pixel " << p;
        }
      }
    }
  }
  DatasetReader test(output.file("test.h5"));
  EXPECT_EQ(test.info().count, 2);
  EXPECT_EQ(test.labels(), (std::vector<int32_t>{0, 1}));
}

TEST(Cifar10, WrongSizeOrBadLabelErrorsNameTheFileAndWriteNothing) {
  TempDir source, output;
  write_cifar(source.path());
  std::vector<uint8_t> bytes = testing::read_bytes(source.file("test_batch.bin"));
  bytes.pop_back();
  testing::write_bytes(source.file("test_batch.bin"), bytes);
  const std::string out = output.file("cifar");
  expect_error_mentions([&] { convert_cifar10(source.path(), out, Overwrite::Refuse); },
                        {source.file("test_batch.bin"), "6145 bytes", "multiple of the 3073-byte record"});
  EXPECT_FALSE(testing::file_exists(out));

  write_cifar(source.path());
  bytes = testing::read_bytes(source.file("data_batch_2.bin"));
  bytes[3073] = 10;  // record 1's label
  testing::write_bytes(source.file("data_batch_2.bin"), bytes);
  expect_error_mentions([&] { convert_cifar10(source.path(), out, Overwrite::Refuse); },
                        {source.file("data_batch_2.bin"), "record 1 has label 10"});
  EXPECT_FALSE(testing::file_exists(out));

  write_cifar(source.path());
  std::filesystem::remove(source.file("data_batch_4.bin"));
  expect_error_mentions([&] { convert_cifar10(source.path(), out, Overwrite::Refuse); },
                        {source.file("data_batch_4.bin")});
  EXPECT_FALSE(testing::file_exists(out));
}

}  // namespace
}  // namespace diffuse
