// PNG via libpng's simplified API, JPEG via libjpeg's compressor.
#include "image_files.h"

#include <png.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

// jpeglib.h uses FILE and size_t without including their headers, so it comes after <cstdio>.
// clang-format off
#include <jpeglib.h>
// clang-format on

namespace diffuse::testing {

void write_png(const std::string& path, const Image& image) {
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = image.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  if (!png_image_write_to_file(&png, path.c_str(), 0, image.pixels.data(), 0, nullptr)) {
    throw std::runtime_error("cannot write PNG " + path + ": " + png.message);
  }
}

void write_jpeg(const std::string& path, const Image& image, int quality) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("cannot create " + path);
  jpeg_compress_struct encoder;
  jpeg_error_mgr errors;
  encoder.err = jpeg_std_error(&errors);
  jpeg_create_compress(&encoder);
  jpeg_stdio_dest(&encoder, file);
  encoder.image_width = static_cast<JDIMENSION>(image.width);
  encoder.image_height = static_cast<JDIMENSION>(image.height);
  encoder.input_components = static_cast<int>(image.channels);
  encoder.in_color_space = image.channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&encoder);
  jpeg_set_quality(&encoder, quality, TRUE);
  jpeg_start_compress(&encoder, TRUE);
  while (encoder.next_scanline < encoder.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(image.pixels.data()) + encoder.next_scanline * image.width * image.channels;
    jpeg_write_scanlines(&encoder, &row, 1);
  }
  jpeg_finish_compress(&encoder);
  jpeg_destroy_compress(&encoder);
  std::fclose(file);
}

Image solid_image(int64_t height, int64_t width, std::vector<uint8_t> colour) {
  Image image{height, width, static_cast<int64_t>(colour.size()), {}};
  for (int64_t p = 0; p < height * width; ++p) image.pixels.insert(image.pixels.end(), colour.begin(), colour.end());
  return image;
}

}  // namespace diffuse::testing
