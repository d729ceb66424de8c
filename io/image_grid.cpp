#include "io/image_grid.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/error.h"
#include "io/pixels.h"

namespace diffuse {

namespace {
constexpr int kBorder = 2;
}  // namespace

void write_png_grid(const std::string& path, const Tensor& images, int columns) {
  DIFFUSE_CHECK(images.rank() == 4, "write_png_grid: images must be [N,H,W,C], got ", images.describe());
  const int64_t count = images.dim(0), height = images.dim(1), width = images.dim(2), channels = images.dim(3);
  DIFFUSE_CHECK(channels == 1 || channels == 3, "write_png_grid: ", channels, " channels (expected 1 or 3)");
  DIFFUSE_CHECK(count > 0 && columns > 0, "write_png_grid: nothing to write");
  const int64_t rows = (count + columns - 1) / columns;
  const int64_t grid_width = columns * (width + kBorder) + kBorder, grid_height = rows * (height + kBorder) + kBorder;
  std::vector<uint8_t> pixels(static_cast<size_t>(grid_width * grid_height * channels), 0);
  const std::vector<float> values = to_vector(images);
  for (int64_t n = 0; n < count; ++n) {
    const int64_t top = (n / columns) * (height + kBorder) + kBorder, left = (n % columns) * (width + kBorder) + kBorder;
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x)
        for (int64_t c = 0; c < channels; ++c)
          pixels[static_cast<size_t>(((top + y) * grid_width + left + x) * channels + c)] =
              to_pixel(values[static_cast<size_t>(((n * height + y) * width + x) * channels + c)]);
  }

  const std::string temporary = path + ".tmp";
  FILE* file = std::fopen(temporary.c_str(), "wb");
  DIFFUSE_CHECK(file != nullptr, "cannot write ", temporary);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (png == nullptr || info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(file);
    std::remove(temporary.c_str());
    DIFFUSE_CHECK(false, "libpng failed writing ", path);
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(grid_width), static_cast<png_uint_32>(grid_height), 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int64_t y = 0; y < grid_height; ++y)
    png_write_row(png, pixels.data() + static_cast<size_t>(y * grid_width * channels));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  const bool closed = std::fclose(file) == 0;
  DIFFUSE_CHECK(closed && std::rename(temporary.c_str(), path.c_str()) == 0, "cannot write ", path);
}

}  // namespace diffuse
