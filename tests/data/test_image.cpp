// Centre-crop-and-resize and channel conversion of 8-bit images.
#include <gtest/gtest.h>

#include <vector>

#include "data/image.h"

namespace diffuse {
namespace {

Image gray(int64_t height, int64_t width, std::vector<uint8_t> pixels) { return Image{height, width, 1, pixels}; }

TEST(ImageResize, SameSizeIsUnchanged) {
  const Image image = gray(3, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(crop_and_resize(image, 3).pixels, image.pixels);
}

TEST(ImageResize, ShrinkingAveragesAreas) {
  const Image image = gray(4, 4,
                           {0, 2, 10, 10,  //
                            4, 6, 10, 10,  //
                            1, 1, 0, 0,    //
                            1, 1, 0, 100});
  EXPECT_EQ(crop_and_resize(image, 2).pixels, (std::vector<uint8_t>{3, 10, 1, 25}));
  // Non-integer ratio 3 -> 2: each output covers 1.5 inputs.
  const Image row = gray(3, 3, {0, 30, 90, 0, 30, 90, 0, 30, 90});
  EXPECT_EQ(crop_and_resize(row, 2).pixels, (std::vector<uint8_t>{10, 70, 10, 70}));
}

TEST(ImageResize, CropsTheCentredSquare) {
  // 2x4: the centre square is columns 1..2.
  const Image wide = gray(2, 4, {9, 1, 2, 9, 9, 3, 4, 9});
  EXPECT_EQ(crop_and_resize(wide, 2).pixels, (std::vector<uint8_t>{1, 2, 3, 4}));
  const Image tall = gray(4, 1, {9, 5, 9, 9});
  EXPECT_EQ(crop_and_resize(tall, 1).pixels, (std::vector<uint8_t>{5}));
}

TEST(ImageResize, EnlargingInterpolatesBilinearly) {
  const Image large = crop_and_resize(gray(2, 2, {0, 100, 0, 100}), 4);
  EXPECT_EQ(large.pixels, (std::vector<uint8_t>{0, 25, 75, 100, 0, 25, 75, 100, 0, 25, 75, 100, 0, 25, 75, 100}));
  EXPECT_EQ(crop_and_resize(gray(1, 1, {7}), 3).pixels, std::vector<uint8_t>(9, 7));
}

TEST(ImageChannels, GrayAndRgbConvert) {
  const Image rgb{1, 2, 3, {255, 0, 0, 10, 20, 30}};
  EXPECT_EQ(convert_channels(rgb, 1).pixels, (std::vector<uint8_t>{76, 18}));
  EXPECT_EQ(convert_channels(gray(1, 1, {42}), 3).pixels, (std::vector<uint8_t>{42, 42, 42}));
  EXPECT_EQ(convert_channels(rgb, 3).pixels, rgb.pixels);
}

}  // namespace
}  // namespace diffuse
