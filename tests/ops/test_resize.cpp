// Bilinear resizing with half-pixel centres: PyTorch's known answer for a
// 2x2 -> 4x4 upsample, a direct formula for up- and downsampling (to
// Inception's 299 as well), identity at the same size, and the gradient.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

// F.interpolate(mode='bilinear', align_corners=False) written out per output pixel.
Tensor reference_resize(const Tensor& x, int64_t ho, int64_t wo) {
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  Tensor y = Tensor::empty({n, ho, wo, c});
  const auto source = [](int64_t o, int64_t in, int64_t out) {
    return std::max(0.0, (o + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5);
  };
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < ho; ++oy)
      for (int64_t ox = 0; ox < wo; ++ox) {
        const double sy = source(oy, h, ho), sx = source(ox, w, wo);
        const int64_t y0 = std::min<int64_t>(static_cast<int64_t>(sy), h - 1),
                      x0 = std::min<int64_t>(static_cast<int64_t>(sx), w - 1);
        const int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
        const double fy = sy - y0, fx = sx - x0;
        for (int64_t ch = 0; ch < c; ++ch) {
          const auto at = [&](int64_t yy, int64_t xx) {
            return static_cast<double>(x.f32()[((b * h + yy) * w + xx) * c + ch]);
          };
          const double value =
              (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
          y.f32()[((b * ho + oy) * wo + ox) * c + ch] = static_cast<float>(value);
        }
      }
  return y;
}

TEST(ResizeBilinear, PyTorchKnownAnswer) {
  const Tensor x = from_vector({1, 2, 3, 4}, {1, 2, 2, 1});
  Tensor y = Tensor::empty({1, 4, 4, 1});
  ops::resize_bilinear_forward(x, y);
  const std::vector<float> expected = {1.0f, 1.25f, 1.75f, 2.0f, 1.5f, 1.75f, 2.25f, 2.5f,
                                       2.5f, 2.75f, 3.25f, 3.5f, 3.0f, 3.25f, 3.75f, 4.0f};
  EXPECT_EQ(to_vector(y), expected);
}

TEST(ResizeBilinear, MatchesFormula) {
  const Tensor x = testing::random_tensor({2, 7, 5, 3}, 41);
  for (const auto& [ho, wo] : std::vector<std::pair<int64_t, int64_t>>{{13, 11}, {3, 4}, {7, 5}, {29, 2}}) {
    Tensor y = Tensor::empty({2, ho, wo, 3});
    ops::resize_bilinear_forward(x, y);
    testing::expect_close(y, reference_resize(x, ho, wo), 1e-6, 1e-6, concat("resize to ", ho, "x", wo));
  }
  const Tensor image = testing::random_tensor({1, 32, 32, 3}, 42);
  Tensor inception = Tensor::empty({1, 299, 299, 3});
  ops::resize_bilinear_forward(image, inception);
  testing::expect_close(inception, reference_resize(image, 299, 299), 1e-6, 1e-6, "resize 32 to 299");
  Tensor same = Tensor::empty(x.shape());
  ops::resize_bilinear_forward(x, same);
  EXPECT_EQ(to_vector(same), to_vector(x));
}

TEST(ResizeBilinear, GradientMatchesFiniteDifferences) {
  const Tensor x = testing::random_tensor({2, 5, 6, 2}, 43);
  for (const auto& [ho, wo] : std::vector<std::pair<int64_t, int64_t>>{{9, 13}, {3, 2}}) {
    const Tensor projection = testing::random_tensor({2, ho, wo, 2}, 44);
    Tensor y = Tensor::empty({2, ho, wo, 2}), dx = Tensor::empty(x.shape());
    ops::resize_bilinear_backward(projection, dx);
    testing::GradCheck options;
    options.step = 0.25;
    options.rtol = 1e-3;
    options.atol = 1e-4;
    testing::expect_gradient(
        concat("resize to ", ho, "x", wo), x, dx,
        [&] {
          ops::resize_bilinear_forward(x, y);
          return testing::project(y, projection);
        },
        options);
  }
}

}  // namespace
}  // namespace diffuse
