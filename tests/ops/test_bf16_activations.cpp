// conv2d, linear and attention on bf16 activations (the CPU backend): each
// output, forward and backward, against the fp32 path run on the same inputs
// widened, within a bound derived from bf16's unit roundoff; on oneDNN's bf16
// kernels, on the widened fallback and (conv) on the im2col path. Weight and
// bias gradients are fp32 and accumulate; an fp32 weight and its bf16 copy give
// the same bits when the weight is bf16-representable.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "core/cpu/conv_dnnl.h"
#include "core/cpu/conv_im2col.h"
#include "core/cpu/widened.h"
#include "core/matmul_precision.h"
#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

constexpr double kBf16UnitRoundoff = 1.0 / 256;  // u = 2^-8: bf16 keeps 8 significant bits

// Uniform in [-1, 1) and rounded to bf16: the bf16 tensor and its exact fp32 widening.
struct Bf16Input {
  Tensor low, wide;
  Bf16Input(const Shape& shape, uint64_t seed)
      : low(testing::cast_to(testing::random_tensor(shape, seed), DType::BF16)),
        wide(testing::cast_to(low, DType::F32)) {}
};

double max_abs(const Tensor& tensor) {
  double largest = 0.0;
  for (const float value : to_vector(tensor)) largest = std::max(largest, static_cast<double>(std::abs(value)));
  return largest;
}

// `actual` (bf16 or f32) against the fp32 path's `expected`, whose elements are sums of `terms` products.
void expect_near_fp32(const Tensor& actual, const Tensor& expected, int64_t terms, const std::string& what) {
  const Tensor widened = testing::cast_to(actual, DType::F32);
  // Inputs are exact in both paths; the bf16 path rounds each output once (u|y|) and rounds intermediate
  // operands (attention's probs and score gradients) whose errors, over K terms, stay below u*sqrt(K)*max|y|.
  const double bound = kBf16UnitRoundoff * std::sqrt(static_cast<double>(terms)) * max_abs(expected);
  testing::expect_close(widened, expected, kBf16UnitRoundoff, bound, what);
}

void expect_identical(const Tensor& actual, const Tensor& expected, const std::string& what) {
  testing::expect_close(testing::cast_to(actual, DType::F32), testing::cast_to(expected, DType::F32), 0.0, 0.0, what);
}

// Runs check(label) on the default path (oneDNN's bf16 kernels where the CPU has them) and on the widened one.
void on_bf16_paths(const std::function<void(const std::string&)>& check) {
  check(" (default path)");
  const cpu::ScopedWidenedBf16Products widened;
  check(" (widened)");
}

// ---- conv2d ------------------------------------------------------------------

struct ConvCase {
  int64_t batch, size, in_channels, out_channels, kernel;
  int stride;

  int padding() const { return kernel == 3 ? 1 : 0; }
  int64_t out_size() const { return (size + 2 * padding() - kernel) / stride + 1; }
  Shape x_shape() const { return {batch, size, size, in_channels}; }
  Shape weight_shape() const { return {out_channels, kernel, kernel, in_channels}; }
  Shape y_shape() const { return {batch, out_size(), out_size(), out_channels}; }
  std::string name() const { return concat(" x", shape_string(x_shape()), " weight", shape_string(weight_shape())); }
};

struct ConvOutputs {
  Tensor y, dx, dweight, dbias;
};

// Forward with bias and skip connection, then backward into gradients that start at `start` (so accumulation
// shows), all activations in `dtype`, the weight as given.
ConvOutputs run_conv(const ConvCase& c, DType dtype, const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const Tensor& residual, const Tensor& dy, const Tensor& start_dweight, const Tensor& start_dbias) {
  ConvOutputs out{Tensor::empty(c.y_shape(), dtype), Tensor::empty(c.x_shape(), dtype),
                  testing::copy_to(start_dweight, Device::CPU), testing::copy_to(start_dbias, Device::CPU)};
  ops::conv2d_forward(x, weight, bias, out.y, c.stride, c.padding(), residual);
  ops::conv2d_backward(x, weight, dy, out.dx, out.dweight, out.dbias, c.stride, c.padding());
  return out;
}

const ConvCase kConvCases[] = {{2, 8, 32, 16, 3, 1}, {2, 9, 16, 32, 3, 2}, {2, 6, 32, 48, 1, 1}};

TEST(Conv2dBf16Activations, EveryOutputNearTheFp32PathOnWidenedInputs) {
  for (const ConvCase& c : kConvCases) {
    const Bf16Input x(c.x_shape(), 1), weight(c.weight_shape(), 2), residual(c.y_shape(), 3), dy(c.y_shape(), 4);
    const Tensor bias = testing::random_tensor({c.out_channels}, 5);
    const Tensor start_dweight = testing::random_tensor(c.weight_shape(), 6);
    const Tensor start_dbias = testing::random_tensor({c.out_channels}, 7);
    const ConvOutputs expected =
        run_conv(c, DType::F32, x.wide, weight.wide, bias, residual.wide, dy.wide, start_dweight, start_dbias);
    const auto check = [&](const std::string& path) {
      for (const Tensor& w : {weight.wide, weight.low}) {
        const std::string label = concat(path, c.name(), " ", dtype_name(w.dtype()), " weight");
        const ConvOutputs got =
            run_conv(c, DType::BF16, x.low, w, bias, residual.low, dy.low, start_dweight, start_dbias);
        ASSERT_EQ(got.dweight.dtype(), DType::F32);
        const int64_t patch = c.kernel * c.kernel * c.in_channels;
        const int64_t pixels = c.batch * c.out_size() * c.out_size();
        expect_near_fp32(got.y, expected.y, patch, "conv y" + label);
        expect_near_fp32(got.dx, expected.dx, c.kernel * c.kernel * c.out_channels, "conv dx" + label);
        // dweight and dbias are fp32 sums of exact products: only the order of the fp32 additions differs.
        testing::expect_close(got.dweight, expected.dweight, 1e-5, 1e-5 * pixels, "conv dweight" + label);
        testing::expect_close(got.dbias, expected.dbias, 0.0, 0.0, "conv dbias" + label);
      }
    };
    on_bf16_paths(check);
    const cpu::ScopedIm2colConvolution im2col;
    check(" (im2col)");
  }
}

// The default path above is oneDNN's bf16 kernels, not the widened fallback, where the CPU multiplies bf16.
TEST(Conv2dBf16Activations, RunOnOneDnnKernelsWhereTheCpuHasBf16) {
  if (!cpu_multiplies_natively(DType::BF16)) GTEST_SKIP() << "this CPU has no bf16 instructions";
  for (const ConvCase& c : kConvCases)
    for (const DType weights : {DType::F32, DType::BF16}) {
      const cpu::ConvGeometry g =
          cpu::ConvGeometry::of(Tensor::empty(c.x_shape(), DType::BF16), Tensor::empty(c.weight_shape(), weights),
                                ops::Conv2dWindow{c.stride, c.padding(), c.padding()});
      const std::string implementations = cpu::conv_implementations(g, {DType::BF16, DType::BF16, weights});
      EXPECT_EQ(implementations.find("im2col"), std::string::npos) << c.name() << ": " << implementations;
    }
}

TEST(Conv2dBf16Activations, Fp32WeightAndItsBf16CopyGiveTheSameBits) {
  const ConvCase c = kConvCases[0];
  const Bf16Input x(c.x_shape(), 11), weight(c.weight_shape(), 12), dy(c.y_shape(), 13);
  const Tensor bias = testing::random_tensor({c.out_channels}, 14);
  const Tensor zero_dweight = Tensor::zeros(c.weight_shape()), zero_dbias = Tensor::zeros({c.out_channels});
  on_bf16_paths([&](const std::string& path) {
    const ConvOutputs f32_weight =
        run_conv(c, DType::BF16, x.low, weight.wide, bias, Tensor(), dy.low, zero_dweight, zero_dbias);
    const ConvOutputs bf16_weight =
        run_conv(c, DType::BF16, x.low, weight.low, bias, Tensor(), dy.low, zero_dweight, zero_dbias);
    expect_identical(f32_weight.y, bf16_weight.y, "conv y" + path);
    expect_identical(f32_weight.dx, bf16_weight.dx, "conv dx" + path);
    expect_identical(f32_weight.dweight, bf16_weight.dweight, "conv dweight" + path);
  });
}

// ---- linear --------------------------------------------------------------------

struct LinearOutputs {
  Tensor y, dx, dweight, dbias;
};

LinearOutputs run_linear(DType dtype, const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& dy,
                         const Tensor& start_dweight, const Tensor& start_dbias) {
  const int64_t rows = x.dim(0), out_features = weight.dim(0);
  LinearOutputs out{Tensor::empty({rows, out_features}, dtype), Tensor::empty(x.shape(), dtype),
                    testing::copy_to(start_dweight, Device::CPU), testing::copy_to(start_dbias, Device::CPU)};
  ops::linear_forward(x, weight, bias, out.y);
  ops::linear_backward(x, weight, dy, out.dx, out.dweight, out.dbias);
  return out;
}

TEST(LinearBf16Activations, EveryOutputNearTheFp32PathOnWidenedInputs) {
  const int64_t rows = 24, in_features = 96, out_features = 40;
  const Bf16Input x({rows, in_features}, 21), weight({out_features, in_features}, 22), dy({rows, out_features}, 23);
  const Tensor bias = testing::random_tensor({out_features}, 24);
  const Tensor start_dweight = testing::random_tensor({out_features, in_features}, 25);
  const Tensor start_dbias = testing::random_tensor({out_features}, 26);
  const LinearOutputs expected = run_linear(DType::F32, x.wide, weight.wide, bias, dy.wide, start_dweight, start_dbias);
  on_bf16_paths([&](const std::string& path) {
    for (const Tensor& w : {weight.wide, weight.low}) {
      const std::string label = concat(path, " ", dtype_name(w.dtype()), " weight");
      const LinearOutputs got = run_linear(DType::BF16, x.low, w, bias, dy.low, start_dweight, start_dbias);
      ASSERT_EQ(got.dweight.dtype(), DType::F32);
      expect_near_fp32(got.y, expected.y, in_features, "linear y" + label);
      expect_near_fp32(got.dx, expected.dx, out_features, "linear dx" + label);
      // fp32 sums of exact products: only the order of the fp32 additions differs.
      testing::expect_close(got.dweight, expected.dweight, 1e-5, 1e-5 * rows, "linear dweight" + label);
      testing::expect_close(got.dbias, expected.dbias, 0.0, 0.0, "linear dbias" + label);
    }
  });
}

TEST(LinearBf16Activations, Fp32WeightAndItsBf16CopyGiveTheSameBits) {
  const Bf16Input x({8, 32}, 31), weight({16, 32}, 32), dy({8, 16}, 33);
  const Tensor bias = testing::random_tensor({16}, 34);
  const Tensor zero_dweight = Tensor::zeros({16, 32}), zero_dbias = Tensor::zeros({16});
  on_bf16_paths([&](const std::string& path) {
    const LinearOutputs f32_weight =
        run_linear(DType::BF16, x.low, weight.wide, bias, dy.low, zero_dweight, zero_dbias);
    const LinearOutputs bf16_weight =
        run_linear(DType::BF16, x.low, weight.low, bias, dy.low, zero_dweight, zero_dbias);
    expect_identical(f32_weight.y, bf16_weight.y, "linear y" + path);
    expect_identical(f32_weight.dx, bf16_weight.dx, "linear dx" + path);
    expect_identical(f32_weight.dweight, bf16_weight.dweight, "linear dweight" + path);
  });
}

// ---- attention -------------------------------------------------------------------

struct AttentionOutputs {
  Tensor out, probs, dqkv;
};

AttentionOutputs run_attention(DType dtype, const Tensor& qkv, const Tensor& dout, int heads) {
  const int64_t batch = qkv.dim(0), tokens = qkv.dim(1), channels = qkv.dim(2) / 3;
  AttentionOutputs result{Tensor::empty({batch, tokens, channels}, dtype),
                          Tensor::empty({batch * heads, tokens, tokens}), Tensor::empty(qkv.shape(), dtype)};
  ops::attention_forward(qkv, result.out, result.probs, heads);
  ops::attention_backward(qkv, result.probs, dout, result.dqkv, heads);
  return result;
}

TEST(AttentionBf16Activations, EveryOutputNearTheFp32PathOnWidenedInputs) {
  const int64_t batch = 2, tokens = 48, channels = 32;
  for (const int heads : {1, 2}) {
    const Bf16Input qkv({batch, tokens, 3 * channels}, 41), dout({batch, tokens, channels}, 42);
    const AttentionOutputs expected = run_attention(DType::F32, qkv.wide, dout.wide, heads);
    on_bf16_paths([&](const std::string& path) {
      const std::string label = concat(path, " heads=", heads);
      const AttentionOutputs got = run_attention(DType::BF16, qkv.low, dout.low, heads);
      // Scores and their softmax are fp32 from exact products: only the order of the fp32 additions differs.
      testing::expect_close(got.probs, expected.probs, 1e-5, 1e-6, "attention probs" + label);
      // out sums L tokens' values; dq and dk sum L score gradients, dv L output gradients.
      expect_near_fp32(got.out, expected.out, tokens, "attention out" + label);
      expect_near_fp32(got.dqkv, expected.dqkv, tokens, "attention dqkv" + label);
    });
  }
}

// A budget below one sample's score gradients makes backward take the samples one at a time, each group a batch of
// its own for the bf16 products.
TEST(AttentionBf16Activations, BackwardOneSampleAtATimeNearTheFp32Path) {
  const int64_t batch = 3, tokens = 48, channels = 32;
  for (const int heads : {1, 2}) {
    const Bf16Input qkv({batch, tokens, 3 * channels}, 43), dout({batch, tokens, channels}, 44);
    const AttentionOutputs expected = run_attention(DType::F32, qkv.wide, dout.wide, heads);
    on_bf16_paths([&](const std::string& path) {
      const testing::ScratchBudget small(1);
      const AttentionOutputs got = run_attention(DType::BF16, qkv.low, dout.low, heads);
      expect_near_fp32(got.dqkv, expected.dqkv, tokens,
                       concat("attention dqkv one sample at a time", path, " heads=", heads));
    });
  }
}

}  // namespace
}  // namespace diffuse
