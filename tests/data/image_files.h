// Writing small PNG and JPEG files for the folder-converter tests.
#pragma once

#include <string>

#include "data/image.h"

namespace diffuse::testing {

void write_png(const std::string& path, const Image& image);
void write_jpeg(const std::string& path, const Image& image, int quality = 95);
// A height x width image of one colour (1 or 3 channel values).
Image solid_image(int64_t height, int64_t width, std::vector<uint8_t> colour);

}  // namespace diffuse::testing
