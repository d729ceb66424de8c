// The image-folder converter on PNG and JPEG files written by the test:
// class ids from sorted folder names, resizing, gray/RGB decided by the first
// image, and corrupt files that stop the conversion before anything is written.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/convert.h"
#include "data/dataset.h"
#include "data_testing.h"
#include "image_files.h"

namespace diffuse {
namespace {

using testing::expect_error_mentions;
using testing::solid_image;
using testing::TempDir;
using testing::write_jpeg;
using testing::write_png;

// classes "bird" (id 0) and "cat" (id 1); "cat" is created first to show that ids follow sorted names.
void make_two_classes(const std::string& root, int64_t channels) {
  std::filesystem::create_directories(root + "/cat");
  std::filesystem::create_directories(root + "/bird");
  auto colour = [&](uint8_t value) {
    return channels == 3 ? std::vector<uint8_t>{value, static_cast<uint8_t>(value / 2), 10}
                         : std::vector<uint8_t>{value};
  };
  write_png(root + "/cat/b.png", solid_image(20, 30, colour(200)));
  write_png(root + "/cat/a.png", solid_image(16, 16, colour(100)));
  write_png(root + "/bird/z.png", solid_image(40, 24, colour(50)));
  testing::write_bytes(root + "/cat/notes.txt", {'h', 'i'});  // not an image: skipped
}

TEST(FolderConversion, ClassesFromSortedFoldersAndImagesResized) {
  TempDir source, output;
  make_two_classes(source.path(), 3);
  const ConvertedFile file = convert_folder(source.path(), 8, output.file("folder.h5"), Overwrite::Refuse);
  EXPECT_EQ(describe_dataset(file.info), "3 images 8x8x3, 2 classes");

  DatasetReader reader(output.file("folder.h5"));
  EXPECT_EQ(reader.labels(), (std::vector<int32_t>{0, 1, 1}));  // bird/z, cat/a, cat/b
  std::vector<uint8_t> pixels(3 * 8 * 8 * 3);
  reader.read_range(0, 3, pixels.data());
  // Solid colours survive cropping and area resizing exactly.
  const std::vector<std::vector<uint8_t>> expected = {{50, 25, 10}, {100, 50, 10}, {200, 100, 10}};
  for (int n = 0; n < 3; ++n) {
    for (int p = 0; p < 64; ++p) {
      for (int c = 0; c < 3; ++c) ASSERT_EQ(pixels[(n * 64 + p) * 3 + c], expected[n][c]) << n << " " << p;
    }
  }
}

TEST(FolderConversion, FirstImageDecidesGrayAndOthersAreConverted) {
  TempDir source, output;
  make_two_classes(source.path(), 1);
  write_png(source.path() + "/cat/c.png", solid_image(8, 8, {255, 0, 0}));  // RGB among gray images
  write_jpeg(source.path() + "/cat/d.jpg", solid_image(16, 16, {90}));
  convert_folder(source.path(), 4, output.file("gray.h5"), Overwrite::Refuse);
  DatasetReader reader(output.file("gray.h5"));
  ASSERT_EQ(reader.info().channels, 1);
  ASSERT_EQ(reader.info().count, 5);
  std::vector<uint8_t> pixels(5 * 16);
  reader.read_range(0, 5, pixels.data());
  EXPECT_EQ(pixels[0], 50);
  EXPECT_EQ(pixels[3 * 16], 76) << "pure red has luma 0.299 * 255";
  EXPECT_NEAR(pixels[4 * 16], 90, 2) << "JPEG is lossy, but not on a flat gray image";
}

TEST(FolderConversion, CorruptImageErrorNamesItAndWritesNothing) {
  TempDir source, output;
  make_two_classes(source.path(), 3);
  std::vector<uint8_t> png = testing::read_bytes(source.path() + "/cat/b.png");
  png.resize(png.size() - 20);  // cut into the image data
  testing::write_bytes(source.path() + "/cat/b.png", png);
  expect_error_mentions([&] { convert_folder(source.path(), 8, output.file("folder.h5"), Overwrite::Refuse); },
                        {source.path() + "/cat/b.png", "cannot decode PNG"});
  EXPECT_TRUE(testing::list_directory(output.path()).empty());

  testing::write_bytes(source.path() + "/cat/b.png", {'n', 'o', 't', ' ', 'a', ' ', 'p', 'n', 'g'});
  expect_error_mentions([&] { convert_folder(source.path(), 8, output.file("folder.h5"), Overwrite::Refuse); },
                        {source.path() + "/cat/b.png", "neither a PNG nor a JPEG"});
  std::filesystem::remove(source.path() + "/cat/b.png");
  write_jpeg(source.path() + "/cat/b.jpg", solid_image(64, 64, {1, 2, 3}));
  std::vector<uint8_t> jpeg = testing::read_bytes(source.path() + "/cat/b.jpg");
  jpeg.resize(jpeg.size() / 2);
  testing::write_bytes(source.path() + "/cat/b.jpg", jpeg);
  expect_error_mentions([&] { convert_folder(source.path(), 8, output.file("folder.h5"), Overwrite::Refuse); },
                        {source.path() + "/cat/b.jpg", "cannot decode JPEG"});
  EXPECT_TRUE(testing::list_directory(output.path()).empty());
}

TEST(FolderConversion, EmptyOrMissingFoldersAreErrors) {
  TempDir source, output;
  EXPECT_THROW(convert_folder(source.path(), 8, output.file("a.h5"), Overwrite::Refuse), Error);
  EXPECT_THROW(convert_folder(source.file("missing"), 8, output.file("a.h5"), Overwrite::Refuse), Error);
  std::filesystem::create_directories(source.path() + "/empty");
  EXPECT_THROW(convert_folder(source.path(), 8, output.file("a.h5"), Overwrite::Refuse), Error);
}

}  // namespace
}  // namespace diffuse
