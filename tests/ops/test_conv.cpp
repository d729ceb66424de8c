// conv2d_forward / conv2d_backward on the CPU backend, on both of its paths
// (oneDNN's kernels and the im2col GEMMs): forward against a double-precision
// loop, every gradient by central finite differences, the write/accumulate
// contract of backward, the chunked im2col path, and bf16 products.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/cpu/conv_dnnl.h"
#include "core/cpu/conv_im2col.h"
#include "core/matmul_precision.h"
#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

enum class Bias { With, Without };

// Runs check(label) on both of the CPU backend's convolution paths: the default one (oneDNN's kernels where it
// has them), then with the im2col fallback forced. The label names the path in failure messages.
template <typename Check>
void on_both_paths(const Check& check) {
  check(std::string(" (default path)"));
  const cpu::ScopedIm2colConvolution im2col;
  check(std::string(" (im2col)"));
}

struct ConvCase {
  int64_t batch, height, width, in_channels, out_channels, kernel;
  int stride;
  Bias bias;

  int padding() const { return kernel == 3 ? 1 : 0; }
  int64_t out_height() const { return (height + 2 * padding() - kernel) / stride + 1; }
  int64_t out_width() const { return (width + 2 * padding() - kernel) / stride + 1; }
  Shape x_shape() const { return {batch, height, width, in_channels}; }
  Shape weight_shape() const { return {out_channels, kernel, kernel, in_channels}; }
  Shape y_shape() const { return {batch, out_height(), out_width(), out_channels}; }
  std::string name() const {
    return concat("x", shape_string(x_shape()), " weight", shape_string(weight_shape()), " stride ", stride,
                  bias == Bias::With ? " bias" : " no bias");
  }
};

// Inputs of one case, uniform in [-1, 1).
struct ConvInputs {
  Tensor x, weight, bias;
  ConvInputs(const ConvCase& c, uint64_t seed)
      : x(testing::random_tensor(c.x_shape(), seed)),
        weight(testing::random_tensor(c.weight_shape(), seed + 1)),
        bias(c.bias == Bias::With ? testing::random_tensor({c.out_channels}, seed + 2) : Tensor()) {}
};

// Direct convolution with double accumulation.
Tensor reference_conv(const ConvCase& c, const ConvInputs& in) {
  Tensor y = Tensor::empty(c.y_shape());
  const float *x = in.x.f32(), *w = in.weight.f32();
  float* out = y.f32();
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t oy = 0; oy < c.out_height(); ++oy)
      for (int64_t ox = 0; ox < c.out_width(); ++ox)
        for (int64_t co = 0; co < c.out_channels; ++co) {
          double sum = c.bias == Bias::With ? in.bias.f32()[co] : 0.0;
          for (int64_t ky = 0; ky < c.kernel; ++ky)
            for (int64_t kx = 0; kx < c.kernel; ++kx) {
              const int64_t iy = oy * c.stride - c.padding() + ky, ix = ox * c.stride - c.padding() + kx;
              if (iy < 0 || iy >= c.height || ix < 0 || ix >= c.width) continue;
              for (int64_t ci = 0; ci < c.in_channels; ++ci)
                sum += static_cast<double>(x[((n * c.height + iy) * c.width + ix) * c.in_channels + ci]) *
                       w[((co * c.kernel + ky) * c.kernel + kx) * c.in_channels + ci];
            }
          out[((n * c.out_height() + oy) * c.out_width() + ox) * c.out_channels + co] = static_cast<float>(sum);
        }
  return y;
}

void check_forward(const ConvCase& c, uint64_t seed) {
  const ConvInputs in(c, seed);
  const Tensor expected = reference_conv(c, in);
  on_both_paths([&](const std::string& path) {
    const Tensor y = testing::nan_tensor(c.y_shape());  // y must be written, not accumulated into
    ops::conv2d_forward(in.x, in.weight, in.bias, y, c.stride, c.padding());
    // fp32 products vs double loop over K*K*Ci products of magnitude <= 1.
    testing::expect_close(y, expected, 1e-4, 1e-5, "conv2d_forward " + c.name() + path);
  });
}

// Loss = project(conv(x, weight, bias), projection); backward with dy = projection gives its gradients.
void check_gradients_on_current_path(const ConvCase& c, uint64_t seed, int max_elements, const std::string& path) {
  const ConvInputs in(c, seed);
  const Tensor projection = testing::random_tensor(c.y_shape(), seed + 3);
  Tensor y = Tensor::empty(c.y_shape());
  const auto loss = [&] {
    ops::conv2d_forward(in.x, in.weight, in.bias, y, c.stride, c.padding());
    return testing::project(y, projection);
  };
  Tensor dx = Tensor::empty(c.x_shape());
  Tensor dweight = Tensor::zeros(c.weight_shape());
  Tensor dbias = c.bias == Bias::With ? Tensor::zeros({c.out_channels}) : Tensor();
  ops::conv2d_backward(in.x, in.weight, projection, dx, dweight, dbias, c.stride, c.padding());

  // The loss is linear in each input, so the central difference has no truncation error and a large step
  // shrinks the fp32 rounding noise of the forward. Small shapes have every element probed.
  testing::GradCheck options;
  options.step = 0.25;
  options.rtol = 1e-3;
  options.atol = 1e-4;
  options.max_elements = max_elements;
  testing::expect_gradient("conv2d dx " + c.name() + path, in.x, dx, loss, options);
  testing::expect_gradient("conv2d dweight " + c.name() + path, in.weight, dweight, loss, options);
  if (c.bias == Bias::With) testing::expect_gradient("conv2d dbias " + c.name() + path, in.bias, dbias, loss, options);
}

void check_gradients(const ConvCase& c, uint64_t seed, int max_elements = 1 << 20) {
  on_both_paths([&](const std::string& path) { check_gradients_on_current_path(c, seed, max_elements, path); });
}

TEST(Conv2dForward, Kernel3Stride1) {
  check_forward({2, 5, 5, 3, 5, 3, 1, Bias::With}, 11);
  check_forward({1, 7, 7, 3, 5, 3, 1, Bias::With}, 12);
  check_forward({3, 6, 4, 16, 8, 3, 1, Bias::With}, 13);
  check_forward({1, 1, 1, 2, 3, 3, 1, Bias::With}, 14);  // every tap but the centre is padding
}

TEST(Conv2dForward, Kernel3Stride1NoBias) {
  check_forward({2, 5, 7, 3, 5, 3, 1, Bias::Without}, 21);
  check_forward({1, 8, 8, 32, 17, 3, 1, Bias::Without}, 22);
  check_forward({2, 16, 16, 32, 8, 3, 1, Bias::Without}, 23);  // large enough for threaded im2col
}

TEST(Conv2dForward, Kernel3Stride2EvenSize) {
  check_forward({2, 8, 8, 4, 6, 3, 2, Bias::With}, 31);
  check_forward({1, 16, 6, 3, 5, 3, 2, Bias::Without}, 32);
  check_forward({2, 32, 32, 16, 8, 3, 2, Bias::With}, 33);  // large enough for threaded im2col
}

TEST(Conv2dForward, Kernel3Stride2OddSize) {
  check_forward({2, 7, 7, 3, 5, 3, 2, Bias::With}, 41);
  check_forward({1, 5, 9, 6, 4, 3, 2, Bias::Without}, 42);
  check_forward({3, 3, 3, 3, 2, 3, 2, Bias::With}, 43);
}

TEST(Conv2dForward, Kernel1) {
  check_forward({2, 5, 5, 3, 5, 1, 1, Bias::With}, 51);
  check_forward({1, 7, 3, 24, 9, 1, 1, Bias::Without}, 52);
  check_forward({4, 16, 16, 8, 48, 1, 1, Bias::With}, 53);  // large enough for a threaded bias fill
}

// A skip connection added in the epilogue: y = conv + bias + residual, on both paths, with and without bias.
TEST(Conv2dForward, ResidualIsAddedToTheOutput) {
  for (const ConvCase& c : {ConvCase{2, 6, 5, 3, 4, 3, 1, Bias::With}, ConvCase{1, 4, 4, 8, 8, 1, 1, Bias::Without},
                            ConvCase{2, 7, 7, 3, 5, 3, 2, Bias::With}}) {
    const ConvInputs in(c, 71);
    const Tensor residual = testing::random_tensor(c.y_shape(), 72);
    Tensor expected = reference_conv(c, in);
    ops::accumulate(expected, residual);
    on_both_paths([&](const std::string& path) {
      const Tensor y = testing::nan_tensor(c.y_shape());
      ops::conv2d_forward(in.x, in.weight, in.bias, y, c.stride, c.padding(), residual);
      testing::expect_close(y, expected, 1e-4, 1e-5, "conv2d_forward with residual " + c.name() + path);
    });
  }
}

TEST(Conv2dGrad, Kernel3Stride1) { check_gradients({2, 5, 5, 3, 4, 3, 1, Bias::With}, 61); }

TEST(Conv2dGrad, Kernel3Stride1NoBias) { check_gradients({1, 4, 6, 2, 3, 3, 1, Bias::Without}, 62); }

TEST(Conv2dGrad, Kernel3Stride2EvenSize) { check_gradients({2, 6, 4, 3, 4, 3, 2, Bias::With}, 63); }

TEST(Conv2dGrad, Kernel3Stride2OddSize) { check_gradients({1, 7, 5, 3, 5, 3, 2, Bias::With}, 64); }

// Shapes above the threshold where im2col and col2im run on several threads; probes spread over the input.
TEST(Conv2dGrad, Kernel3Stride1Threaded) { check_gradients({2, 16, 16, 16, 8, 3, 1, Bias::With}, 67, 12); }

TEST(Conv2dGrad, Kernel3Stride2Threaded) { check_gradients({2, 32, 32, 8, 4, 3, 2, Bias::With}, 68, 12); }

TEST(Conv2dGrad, Kernel1) { check_gradients({2, 3, 5, 3, 5, 1, 1, Bias::With}, 65); }

TEST(Conv2dGrad, Kernel1NoBias) { check_gradients({1, 4, 4, 6, 2, 1, 1, Bias::Without}, 66); }

// dx is written over whatever it held; dweight and dbias are added onto their previous contents.
void check_write_and_accumulate_on_current_path(const ConvCase& c, uint64_t seed, const std::string& path) {
  const ConvInputs in(c, seed);
  const Tensor dy = testing::random_tensor(c.y_shape(), seed + 3);
  Tensor dx_fresh = Tensor::empty(c.x_shape()), dweight_fresh = Tensor::zeros(c.weight_shape());
  Tensor dbias_fresh = Tensor::zeros({c.out_channels});
  ops::conv2d_backward(in.x, in.weight, dy, dx_fresh, dweight_fresh, dbias_fresh, c.stride, c.padding());

  const Tensor dx = testing::nan_tensor(c.x_shape());
  const Tensor dweight_before = testing::random_tensor(c.weight_shape(), seed + 4);
  const Tensor dbias_before = testing::random_tensor({c.out_channels}, seed + 5);
  const Tensor dweight = testing::copy_to(dweight_before, Device::CPU);
  const Tensor dbias = testing::copy_to(dbias_before, Device::CPU);
  for (int call = 0; call < 2; ++call)
    ops::conv2d_backward(in.x, in.weight, dy, dx, dweight, dbias, c.stride, c.padding());

  testing::expect_close(dx, dx_fresh, 0.0, 0.0, "conv2d dx overwritten " + c.name() + path);
  // Two fp32 additions onto the previous contents.
  testing::expect_close(dweight, testing::add_scaled(dweight_before, 2.0f, dweight_fresh), 1e-5, 1e-5,
                        "conv2d dweight accumulated " + c.name() + path);
  testing::expect_close(dbias, testing::add_scaled(dbias_before, 2.0f, dbias_fresh), 1e-5, 1e-5,
                        "conv2d dbias accumulated " + c.name() + path);
}

void check_write_and_accumulate(const ConvCase& c, uint64_t seed) {
  on_both_paths([&](const std::string& path) { check_write_and_accumulate_on_current_path(c, seed, path); });
}

TEST(Conv2dBackward, AccumulatesParameterGradsAndOverwritesDx) {
  check_write_and_accumulate({2, 5, 5, 3, 4, 3, 1, Bias::With}, 71);
  check_write_and_accumulate({2, 6, 6, 3, 4, 3, 2, Bias::With}, 72);
  check_write_and_accumulate({2, 4, 3, 5, 6, 1, 1, Bias::With}, 73);
}

TEST(Conv2dBackward, SkipsUndefinedGradients) {
  for (const ConvCase& c : {ConvCase{2, 5, 5, 3, 4, 3, 1, Bias::With}, ConvCase{1, 4, 4, 3, 2, 1, 1, Bias::With}}) {
    const ConvInputs in(c, 81);
    const Tensor dy = testing::random_tensor(c.y_shape(), 84);
    Tensor dx = Tensor::empty(c.x_shape()), dweight = Tensor::zeros(c.weight_shape());
    Tensor dbias = Tensor::zeros({c.out_channels});
    ops::conv2d_backward(in.x, in.weight, dy, dx, dweight, dbias, c.stride, c.padding());

    Tensor dx_only = Tensor::empty(c.x_shape());
    ops::conv2d_backward(in.x, in.weight, dy, dx_only, Tensor(), Tensor(), c.stride, c.padding());
    testing::expect_close(dx_only, dx, 0.0, 0.0, "conv2d dx alone " + c.name());
    Tensor dweight_only = Tensor::zeros(c.weight_shape());
    ops::conv2d_backward(in.x, in.weight, dy, Tensor(), dweight_only, Tensor(), c.stride, c.padding());
    testing::expect_close(dweight_only, dweight, 0.0, 0.0, "conv2d dweight alone " + c.name());
    Tensor dbias_only = Tensor::zeros({c.out_channels});
    ops::conv2d_backward(in.x, in.weight, dy, Tensor(), Tensor(), dbias_only, c.stride, c.padding());
    testing::expect_close(dbias_only, dbias, 0.0, 0.0, "conv2d dbias alone " + c.name());
  }
}

// An empty batch is a valid call: nothing to write, parameter gradients unchanged.
TEST(Conv2dBackward, EmptyBatchKeepsParameterGrads) {
  for (const ConvCase& c : {ConvCase{0, 5, 5, 3, 4, 3, 1, Bias::With}, ConvCase{0, 4, 4, 3, 2, 1, 1, Bias::With}}) {
    const ConvInputs in(c, 101);
    Tensor y = Tensor::empty(c.y_shape()), dx = Tensor::empty(c.x_shape());
    ops::conv2d_forward(in.x, in.weight, in.bias, y, c.stride, c.padding());
    const Tensor dweight_before = testing::random_tensor(c.weight_shape(), 104);
    const Tensor dbias_before = testing::random_tensor({c.out_channels}, 105);
    const Tensor dweight = testing::copy_to(dweight_before, Device::CPU);
    const Tensor dbias = testing::copy_to(dbias_before, Device::CPU);
    ops::conv2d_backward(in.x, in.weight, y, dx, dweight, dbias, c.stride, c.padding());
    testing::expect_close(dweight, dweight_before, 0.0, 0.0, "conv2d dweight, empty batch " + c.name());
    testing::expect_close(dbias, dbias_before, 0.0, 0.0, "conv2d dbias, empty batch " + c.name());
  }
}

// A scratch budget of a few output lines splits the patch matrix into chunks that straddle images. At one
// line per chunk the im2col and col2im loops are too small to thread, so the two larger cases also compare
// the threaded loops element by element with the serial ones.
TEST(Conv2dBackward, ChunkedMatchesUnchunked) {
  const cpu::ScopedIm2colConvolution im2col;
  for (const ConvCase& c :
       {ConvCase{3, 7, 6, 3, 4, 3, 1, Bias::With}, ConvCase{3, 8, 5, 3, 4, 3, 2, Bias::With},
        ConvCase{2, 16, 16, 16, 8, 3, 1, Bias::With}, ConvCase{2, 32, 32, 8, 4, 3, 2, Bias::With}}) {
    const ConvInputs in(c, 91);
    const Tensor dy = testing::random_tensor(c.y_shape(), 94);
    Tensor dx = Tensor::empty(c.x_shape()), dweight = Tensor::zeros(c.weight_shape());
    Tensor dbias = Tensor::zeros({c.out_channels});
    ops::conv2d_backward(in.x, in.weight, dy, dx, dweight, dbias, c.stride, c.padding());

    const size_t line_bytes = static_cast<size_t>(c.out_width() * c.kernel * c.kernel * c.in_channels) * sizeof(float);
    for (const size_t budget : {size_t{1}, 3 * line_bytes}) {
      const testing::ScratchBudget small(budget);
      check_forward(c, 91);
      Tensor dx_chunked = Tensor::empty(c.x_shape()), dweight_chunked = Tensor::zeros(c.weight_shape());
      Tensor dbias_chunked = Tensor::zeros({c.out_channels});
      ops::conv2d_backward(in.x, in.weight, dy, dx_chunked, dweight_chunked, dbias_chunked, c.stride, c.padding());
      // Only the order of fp32 additions differs between chunked and unchunked.
      const std::string what = concat(c.name(), " budget ", budget, " bytes");
      testing::expect_close(dx_chunked, dx, 1e-5, 1e-5, "conv2d dx chunked " + what);
      testing::expect_close(dweight_chunked, dweight, 1e-5, 1e-5, "conv2d dweight chunked " + what);
      testing::expect_close(dbias_chunked, dbias, 0.0, 0.0, "conv2d dbias chunked " + what);
    }
  }
}

// The U-Net's convolution shapes run on oneDNN's kernels, not on the fallback (or its reference loops).
TEST(Conv2dPaths, ModelShapesUseOneDnnKernels) {
  for (const ConvCase& c : {ConvCase{8, 16, 16, 32, 32, 3, 1, Bias::With}, ConvCase{8, 16, 16, 1, 32, 3, 1, Bias::With},
                            ConvCase{8, 16, 16, 32, 3, 3, 1, Bias::With}, ConvCase{8, 16, 16, 32, 32, 3, 2, Bias::With},
                            ConvCase{8, 16, 16, 96, 64, 1, 1, Bias::With}}) {
    const ConvInputs in(c, 120);
    const cpu::ConvGeometry g = cpu::ConvGeometry::of(in.x, in.weight, {c.stride, c.padding(), c.padding()});
    const std::string implementations = cpu::conv_implementations(g, {DType::F32});
    // conv_implementations says "im2col" wherever oneDNN offered only its reference loops.
    EXPECT_EQ(implementations.find("im2col"), std::string::npos) << c.name() << ": " << implementations;
  }
}

// `tensor` rounded to bf16 (to nearest even) and widened back to fp32.
Tensor rounded_to_bf16(const Tensor& tensor) {
  const Tensor narrow = Tensor::empty(tensor.shape(), DType::BF16), rounded = Tensor::empty(tensor.shape());
  ops::cast(tensor, narrow);
  ops::cast(narrow, rounded);
  return rounded;
}

// With bf16 products the convolution is the fp32 one of bf16-rounded inputs, in all three directions; the
// rounding is real (the result differs from fp32 products) and small. CPUs without bf16 instructions compute
// in fp32 instead.
TEST(Conv2dBf16, ProductsOfRoundedInputs) {
  if (!cpu_multiplies_natively(DType::BF16)) GTEST_SKIP() << "this CPU has no bf16 instructions";
  for (const ConvCase& c : {ConvCase{2, 8, 8, 32, 16, 3, 1, Bias::With}, ConvCase{2, 8, 8, 16, 32, 3, 2, Bias::With},
                            ConvCase{2, 6, 6, 32, 48, 1, 1, Bias::With}}) {
    const ConvInputs in(c, 130);
    const Tensor dy = testing::random_tensor(c.y_shape(), 133);
    ConvInputs rounded = in;  // products of bf16-rounded inputs, summed in fp32
    rounded.x = rounded_to_bf16(in.x);
    rounded.weight = rounded_to_bf16(in.weight);
    const Tensor dy_rounded = rounded_to_bf16(dy);

    const auto run = [&](const ConvInputs& inputs, const Tensor& grad_out, Tensor& y, Tensor& dx, Tensor& dweight) {
      y = Tensor::empty(c.y_shape());
      dx = Tensor::empty(c.x_shape());
      dweight = Tensor::zeros(c.weight_shape());
      ops::conv2d_forward(inputs.x, inputs.weight, inputs.bias, y, c.stride, c.padding());
      ops::conv2d_backward(inputs.x, inputs.weight, grad_out, dx, dweight, Tensor(), c.stride, c.padding());
    };
    Tensor y_bf16, dx_bf16, dweight_bf16, y_expected, dx_expected, dweight_expected, y_fp32, dx_fp32, dweight_fp32;
    {
      const ScopedMatmulDtype bf16(DType::BF16);
      run(in, dy, y_bf16, dx_bf16, dweight_bf16);
    }
    run(rounded, dy_rounded, y_expected, dx_expected, dweight_expected);
    run(in, dy, y_fp32, dx_fp32, dweight_fp32);
    // Same products, summed in a different order (blocked bf16 dot products).
    testing::expect_close(y_bf16, y_expected, 1e-4, 1e-4, "bf16 conv forward " + c.name());
    testing::expect_close(dx_bf16, dx_expected, 1e-4, 1e-4, "bf16 conv dx " + c.name());
    testing::expect_close(dweight_bf16, dweight_expected, 1e-4, 1e-4, "bf16 conv dweight " + c.name());
    // bf16 keeps 8 significant bits: sums of hundreds of products of magnitude <= 1 move by ~1e-2.
    testing::expect_close(y_bf16, y_fp32, 0.0, 0.1, "bf16 conv forward near fp32 " + c.name());
    double largest_change = 0.0;
    for (int64_t i = 0; i < y_bf16.numel(); ++i)
      largest_change = std::max(largest_change, static_cast<double>(std::abs(y_bf16.f32()[i] - y_fp32.f32()[i])));
    EXPECT_GT(largest_change, 1e-4) << "bf16 products left the fp32 result unchanged: " << c.name();
  }
}

}  // namespace
}  // namespace diffuse
