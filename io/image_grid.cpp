// PNG grids through libpng's simplified API, encoded in memory and published atomically.
#include "io/image_grid.h"

#include <png.h>

#include <vector>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/pixels.h"

namespace diffuse {

namespace {
constexpr int kBorder = 2;
}  // namespace

PngImage png_grid(const Tensor& images, int columns) {
  DIFFUSE_CHECK(images.rank() == 4, "png_grid: images must be [N,H,W,C], got ", images.describe());
  const int64_t count = images.dim(0), height = images.dim(1), width = images.dim(2), channels = images.dim(3);
  DIFFUSE_CHECK(channels == 1 || channels == 3, "png_grid: ", channels, " channels (expected 1 or 3)");
  DIFFUSE_CHECK(count > 0 && columns > 0, "png_grid: nothing to write");
  const int64_t rows = (count + columns - 1) / columns;
  const int64_t grid_width = columns * (width + kBorder) + kBorder, grid_height = rows * (height + kBorder) + kBorder;
  std::vector<uint8_t> pixels(static_cast<size_t>(grid_width * grid_height * channels), 0);
  const std::vector<float> values = to_vector(images);
  for (int64_t n = 0; n < count; ++n) {
    const int64_t top = (n / columns) * (height + kBorder) + kBorder,
                  left = (n % columns) * (width + kBorder) + kBorder;
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x)
        for (int64_t c = 0; c < channels; ++c)
          pixels[static_cast<size_t>(((top + y) * grid_width + left + x) * channels + c)] =
              to_pixel(values[static_cast<size_t>(((n * height + y) * width + x) * channels + c)]);
  }

  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(grid_width);
  image.height = static_cast<png_uint_32>(grid_height);
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  png_alloc_size_t size = PNG_IMAGE_PNG_SIZE_MAX(image);
  PngImage png{std::string(static_cast<size_t>(size), '\0'), grid_height, grid_width, channels};
  // The simplified API frees its state itself and reports failure in image.message.
  const bool encoded = png_image_write_to_memory(&image, png.bytes.data(), &size, 0, pixels.data(), 0, nullptr) != 0;
  DIFFUSE_CHECK(encoded, "cannot encode a PNG grid: libpng: ", image.message);
  png.bytes.resize(static_cast<size_t>(size));
  return png;
}

void write_png_grid(const std::string& path, const Tensor& images, int columns) {
  write_file_atomically(path, png_grid(images, columns).bytes);
}

}  // namespace diffuse
