// conv2d_forward / conv2d_backward with the window geometries of Inception-v3:
// rectangular kernels (1x7, 7x1, 1x3, 3x1) with per-axis padding, 5x5, and
// unpadded 3x3 at stride 1 and 2. Forward against a double loop, every
// gradient by central differences, and the chunked im2col path.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "core/cpu/gemm.h"
#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

struct WindowCase {
  int64_t batch, height, width, in_channels, out_channels, kernel_h, kernel_w;
  ops::Conv2dWindow window;

  int64_t out_height() const { return (height + 2 * window.pad_h - kernel_h) / window.stride + 1; }
  int64_t out_width() const { return (width + 2 * window.pad_w - kernel_w) / window.stride + 1; }
  Shape x_shape() const { return {batch, height, width, in_channels}; }
  Shape weight_shape() const { return {out_channels, kernel_h, kernel_w, in_channels}; }
  Shape y_shape() const { return {batch, out_height(), out_width(), out_channels}; }
  std::string name() const {
    return concat("x", shape_string(x_shape()), " weight", shape_string(weight_shape()), " stride ", window.stride,
                  " pad ", window.pad_h, ",", window.pad_w);
  }
};

Tensor reference_conv(const WindowCase& c, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  Tensor y = Tensor::empty(c.y_shape());
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t oy = 0; oy < c.out_height(); ++oy)
      for (int64_t ox = 0; ox < c.out_width(); ++ox)
        for (int64_t co = 0; co < c.out_channels; ++co) {
          double sum = bias.f32()[co];
          for (int64_t ky = 0; ky < c.kernel_h; ++ky)
            for (int64_t kx = 0; kx < c.kernel_w; ++kx) {
              const int64_t iy = oy * c.window.stride - c.window.pad_h + ky;
              const int64_t ix = ox * c.window.stride - c.window.pad_w + kx;
              if (iy < 0 || iy >= c.height || ix < 0 || ix >= c.width) continue;
              for (int64_t ci = 0; ci < c.in_channels; ++ci)
                sum += static_cast<double>(x.f32()[((n * c.height + iy) * c.width + ix) * c.in_channels + ci]) *
                       weight.f32()[((co * c.kernel_h + ky) * c.kernel_w + kx) * c.in_channels + ci];
            }
          y.f32()[((n * c.out_height() + oy) * c.out_width() + ox) * c.out_channels + co] = static_cast<float>(sum);
        }
  return y;
}

const WindowCase kCases[] = {
    {2, 9, 8, 3, 4, 1, 7, {1, 0, 3}},                                    // Inception C: 1x7 "same"
    {2, 8, 9, 3, 4, 7, 1, {1, 3, 0}},                                    // 7x1 "same"
    {1, 6, 7, 4, 3, 1, 3, {1, 0, 1}},                                    // Inception E: 1x3 and 3x1
    {1, 7, 6, 4, 3, 3, 1, {1, 1, 0}}, {2, 7, 7, 3, 5, 5, 5, {1, 2, 2}},  // Inception A: 5x5 padding 2
    {2, 9, 9, 3, 4, 3, 3, {2, 0, 0}},  // stem and reductions: 3x3 stride 2, no padding
    {1, 8, 7, 3, 4, 3, 3, {2, 0, 0}}, {2, 7, 6, 3, 4, 3, 3, {1, 0, 0}},  // 3x3 without padding
};

TEST(Conv2dWindow, ForwardMatchesLoop) {
  uint64_t seed = 300;
  for (const WindowCase& c : kCases) {
    const Tensor x = testing::random_tensor(c.x_shape(), seed++),
                 weight = testing::random_tensor(c.weight_shape(), seed++);
    const Tensor bias = testing::random_tensor({c.out_channels}, seed++);
    Tensor y = Tensor::empty(c.y_shape());
    fill(y, std::numeric_limits<float>::quiet_NaN());
    ops::conv2d_forward(x, weight, bias, y, c.window);
    testing::expect_close(y, reference_conv(c, x, weight, bias), 1e-4, 1e-5, "conv2d_forward " + c.name());
  }
}

TEST(Conv2dWindow, GradientsMatchFiniteDifferences) {
  uint64_t seed = 400;
  for (const WindowCase& c : kCases) {
    const Tensor x = testing::random_tensor(c.x_shape(), seed++),
                 weight = testing::random_tensor(c.weight_shape(), seed++);
    const Tensor bias = testing::random_tensor({c.out_channels}, seed++);
    const Tensor projection = testing::random_tensor(c.y_shape(), seed++);
    Tensor y = Tensor::empty(c.y_shape());
    const auto loss = [&] {
      ops::conv2d_forward(x, weight, bias, y, c.window);
      return testing::project(y, projection);
    };
    Tensor dx = Tensor::empty(c.x_shape()), dweight = Tensor::zeros(c.weight_shape());
    Tensor dbias = Tensor::zeros({c.out_channels});
    ops::conv2d_backward(x, weight, projection, dx, dweight, dbias, c.window);
    // Linear in each input: a large step has no truncation error and little rounding noise.
    testing::GradCheck options;
    options.step = 0.25;
    options.rtol = 1e-3;
    options.atol = 1e-4;
    options.max_elements = 48;
    testing::expect_gradient("dx " + c.name(), x, dx, loss, options);
    testing::expect_gradient("dweight " + c.name(), weight, dweight, loss, options);
    testing::expect_gradient("dbias " + c.name(), bias, dbias, loss, options);
  }
}

// Patch chunks of one output line exercise col2im's row bounds with rectangular kernels.
TEST(Conv2dWindow, ChunkedMatchesUnchunked) {
  const size_t saved = cpu::scratch_budget_bytes();
  for (const WindowCase& c : {kCases[1], kCases[4], kCases[5]}) {
    const Tensor x = testing::random_tensor(c.x_shape(), 501), weight = testing::random_tensor(c.weight_shape(), 502);
    const Tensor dy = testing::random_tensor(c.y_shape(), 503);
    Tensor y = Tensor::empty(c.y_shape()), dx = Tensor::empty(c.x_shape()), dw = Tensor::zeros(c.weight_shape());
    ops::conv2d_forward(x, weight, Tensor(), y, c.window);
    ops::conv2d_backward(x, weight, dy, dx, dw, Tensor(), c.window);
    cpu::set_scratch_budget_bytes(1);
    Tensor y_chunked = Tensor::empty(c.y_shape()), dx_chunked = Tensor::empty(c.x_shape());
    Tensor dw_chunked = Tensor::zeros(c.weight_shape());
    ops::conv2d_forward(x, weight, Tensor(), y_chunked, c.window);
    ops::conv2d_backward(x, weight, dy, dx_chunked, dw_chunked, Tensor(), c.window);
    cpu::set_scratch_budget_bytes(saved);
    testing::expect_close(y_chunked, y, 1e-5, 1e-6, "chunked y " + c.name());
    testing::expect_close(dx_chunked, dx, 1e-5, 1e-6, "chunked dx " + c.name());
    testing::expect_close(dw_chunked, dw, 1e-5, 1e-5, "chunked dweight " + c.name());
  }
}

TEST(Conv2dWindow, RejectsPaddingNotSmallerThanKernel) {
  const std::string message = testing::error_message([] {
    ops::conv2d_forward(Tensor::zeros({1, 8, 8, 2}), Tensor::zeros({3, 1, 7, 2}), Tensor(),
                        Tensor::zeros({1, 10, 8, 3}), ops::Conv2dWindow{1, 1, 3});
  });
  EXPECT_NE(message.find("kernel 1x7 stride 1 padding 1,3"), std::string::npos) << message;
}

}  // namespace
}  // namespace diffuse
