// Channel conversion and centre-crop-and-resize of 8-bit images, done as two
// separable 1-D passes (rows, then columns) in float.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "data/image.h"

namespace diffuse {

namespace {

// One input sample's contribution to one output sample.
struct Tap {
  int64_t source;
  float weight;
};

// For each of `outputs` samples, the input samples [0, inputs) it averages.
std::vector<std::vector<Tap>> resize_taps(int64_t inputs, int64_t outputs) {
  std::vector<std::vector<Tap>> taps(outputs);
  const double scale = static_cast<double>(inputs) / static_cast<double>(outputs);
  for (int64_t o = 0; o < outputs; ++o) {
    if (inputs >= outputs) {
      // Area: the output covers [begin, end) of the input; weight each input by its overlap.
      const double begin = o * scale, end = (o + 1) * scale;
      for (int64_t i = static_cast<int64_t>(std::floor(begin)); i < std::min<int64_t>(inputs, std::ceil(end)); ++i) {
        const double overlap = std::min<double>(end, i + 1) - std::max<double>(begin, i);
        if (overlap > 0) taps[o].push_back(Tap{i, static_cast<float>(overlap / scale)});
      }
    } else {
      // Bilinear between the two inputs around the output's centre (half-pixel convention).
      const double centre = std::clamp((o + 0.5) * scale - 0.5, 0.0, static_cast<double>(inputs - 1));
      const int64_t low = static_cast<int64_t>(std::floor(centre));
      const int64_t high = std::min(low + 1, inputs - 1);
      const float fraction = static_cast<float>(centre - low);
      taps[o].push_back(Tap{low, 1.0f - fraction});
      if (high != low) taps[o].push_back(Tap{high, fraction});
    }
  }
  return taps;
}

}  // namespace

Image convert_channels(const Image& image, int64_t channels) {
  DIFFUSE_CHECK(channels == 1 || channels == 3, "images have 1 or 3 channels, not ", channels);
  DIFFUSE_CHECK(image.channels == 1 || image.channels == 3, "images have 1 or 3 channels, not ", image.channels);
  if (image.channels == channels) return image;
  Image converted{image.height, image.width, channels, {}};
  const int64_t pixels = image.height * image.width;
  converted.pixels.resize(static_cast<size_t>(pixels * channels));
  for (int64_t p = 0; p < pixels; ++p) {
    if (channels == 3) {
      std::fill_n(converted.pixels.data() + p * 3, 3, image.pixels[p]);
    } else {
      const uint8_t* rgb = image.pixels.data() + p * 3;
      converted.pixels[p] = static_cast<uint8_t>((299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2] + 500) / 1000);
    }
  }
  return converted;
}

Image crop_and_resize(const Image& image, int64_t size) {
  DIFFUSE_CHECK(size > 0, "resize target must be positive, got ", size);
  DIFFUSE_CHECK(image.height > 0 && image.width > 0, "cannot resize an empty image");
  const int64_t side = std::min(image.height, image.width);
  const int64_t top = (image.height - side) / 2, left = (image.width - side) / 2;
  const int64_t channels = image.channels;
  const std::vector<std::vector<Tap>> taps = resize_taps(side, size);

  // Rows: [side, size, C] from the crop's [side, side, C].
  std::vector<float> rows(static_cast<size_t>(side * size * channels), 0.0f);
  for (int64_t y = 0; y < side; ++y) {
    const uint8_t* source_row = image.pixels.data() + ((top + y) * image.width + left) * channels;
    float* row = rows.data() + y * size * channels;
    for (int64_t x = 0; x < size; ++x) {
      for (const Tap& tap : taps[x]) {
        for (int64_t c = 0; c < channels; ++c)
          row[x * channels + c] += tap.weight * source_row[tap.source * channels + c];
      }
    }
  }
  // Columns: [size, size, C].
  Image resized{size, size, channels, std::vector<uint8_t>(static_cast<size_t>(size * size * channels))};
  std::vector<float> accumulator(static_cast<size_t>(size * channels));
  for (int64_t y = 0; y < size; ++y) {
    std::fill(accumulator.begin(), accumulator.end(), 0.0f);
    for (const Tap& tap : taps[y]) {
      const float* row = rows.data() + tap.source * size * channels;
      for (int64_t i = 0; i < size * channels; ++i) accumulator[i] += tap.weight * row[i];
    }
    for (int64_t i = 0; i < size * channels; ++i) {
      resized.pixels[y * size * channels + i] = static_cast<uint8_t>(std::clamp(std::lround(accumulator[i]), 0L, 255L));
    }
  }
  return resized;
}

}  // namespace diffuse
