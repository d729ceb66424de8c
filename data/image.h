// 8-bit images for the folder converter: decoding PNG and JPEG files, gray /
// RGB conversion, and the centre-crop-and-resize that makes them square.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace diffuse {

struct Image {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;         // 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;  // [height, width, channels]
};

// Decodes a PNG (libpng) or JPEG (libjpeg) file, recognised by its signature,
// to gray or RGB as stored; alpha is composited onto black. Corrupt or
// truncated files (including those libjpeg only warns about) throw an Error
// naming the file.
Image decode_image(const std::string& path);

// Gray -> RGB repeats the value; RGB -> gray is the BT.601 luma
// 0.299 R + 0.587 G + 0.114 B (what JPEG uses), rounded.
Image convert_channels(const Image& image, int64_t channels);

// The centred square of side min(height, width), resized to size x size:
// area averaging when shrinking (no aliasing), bilinear when enlarging. An
// image that already is size x size comes back unchanged.
Image crop_and_resize(const Image& image, int64_t size);

}  // namespace diffuse
