// conv2d, linear and attention on the GPU with bf16 and fp16 activations (and
// fp32 weights or their copy in the activation type) against the CPU's fp32
// path on the same inputs widened: every output within a bound from the type's
// unit roundoff, weight and bias gradients fp32, and every cuDNN/cuBLAS call in
// the activation type (core/cuda/library_types.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/ops.h"
#include "tests/gpu/gpu_testing.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

// u = 2^-8 for bf16 (8 significant bits), 2^-11 for fp16 (11).
double unit_roundoff(DType dtype) { return dtype == DType::BF16 ? 1.0 / 256 : 1.0 / 2048; }

// A low-precision GPU result against the fp32 CPU one whose elements sum `terms` products.
void expect_near(const Tensor& actual, const Tensor& expected, DType dtype, int64_t terms, const std::string& what) {
  const Tensor widened = testing::cast_to(testing::copy_to(actual, Device::CPU), DType::F32);
  double largest = 0.0;
  for (const float value : to_vector(expected)) largest = std::max(largest, static_cast<double>(std::abs(value)));
  // Exact inputs; each output rounded once (u|y|), intermediate operands rounded over K terms (u*sqrt(K)*max|y|).
  const double u = unit_roundoff(dtype);
  testing::expect_close(widened, expected, u, u * std::sqrt(static_cast<double>(terms)) * largest, what);
}

// Inputs uniform in [-1, 1) rounded to `dtype`: the CPU fp32 widening and the GPU copy in `dtype`.
struct Input {
  Tensor wide, low;
  Input(const Shape& shape, uint64_t seed, DType dtype) {
    low = testing::cast_to(testing::random_tensor(shape, seed), dtype);
    wide = testing::cast_to(low, DType::F32);
    low = testing::copy_to(low, Device::CUDA);
  }
};

class GpuLowPrecisionProductActivations : public ::testing::TestWithParam<DType> {};

TEST_P(GpuLowPrecisionProductActivations, ConvolutionNearFp32Cpu) {
  DIFFUSE_REQUIRE_GPU();
  const DType dtype = GetParam();
  const Shape x_shape{4, 16, 16, 32}, weight_shape{64, 3, 3, 32}, y_shape{4, 16, 16, 64};
  const Input x(x_shape, 1, dtype), weight(weight_shape, 2, dtype), residual(y_shape, 3, dtype), dy(y_shape, 4, dtype);
  const Tensor bias = testing::random_tensor({64}, 5);
  Tensor y = Tensor::empty(y_shape), dx = Tensor::empty(x_shape), dweight = Tensor::zeros(weight_shape),
         dbias = Tensor::zeros({64});
  ops::conv2d_forward(x.wide, weight.wide, bias, y, 1, 1, residual.wide);
  ops::conv2d_backward(x.wide, weight.wide, dy.wide, dx, dweight, dbias, 1, 1);
  for (const bool low_weight : {false, true}) {
    const std::string label = concat(" in ", dtype_name(dtype), low_weight ? " (weight copy)" : " (fp32 weight)");
    const Tensor w = low_weight ? weight.low : testing::copy_to(weight.wide, Device::CUDA);
    Tensor gpu_y = Tensor::empty(y_shape, dtype, Device::CUDA), gpu_dx = Tensor::empty(x_shape, dtype, Device::CUDA);
    Tensor gpu_dweight = Tensor::zeros(weight_shape, DType::F32, Device::CUDA);
    Tensor gpu_dbias = Tensor::zeros({64}, DType::F32, Device::CUDA);
    testing::reset_library_calls();
    ops::conv2d_forward(x.low, w, testing::copy_to(bias, Device::CUDA), gpu_y, 1, 1, residual.low);
    ops::conv2d_backward(x.low, w, dy.low, gpu_dx, gpu_dweight, gpu_dbias, 1, 1);
    testing::expect_library_calls_in(dtype, true, "conv" + label);
    expect_near(gpu_y, y, dtype, 3 * 3 * 32, "conv y" + label);
    expect_near(gpu_dx, dx, dtype, 3 * 3 * 64, "conv dx" + label);
    // The filter gradient is rounded to the operand type once per call before its fp32 accumulation.
    expect_near(gpu_dweight, dweight, dtype, 4 * 16 * 16, "conv dweight" + label);
    testing::expect_close(testing::copy_to(gpu_dbias, Device::CPU), dbias, 1e-6, 1e-5, "conv dbias" + label);
  }
}

TEST_P(GpuLowPrecisionProductActivations, LinearNearFp32Cpu) {
  DIFFUSE_REQUIRE_GPU();
  const DType dtype = GetParam();
  const int64_t rows = 64, in_features = 256, out_features = 128;
  const Input x({rows, in_features}, 11, dtype), weight({out_features, in_features}, 12, dtype),
      dy({rows, out_features}, 13, dtype);
  const Tensor bias = testing::random_tensor({out_features}, 14);
  Tensor y = Tensor::empty({rows, out_features}), dx = Tensor::empty({rows, in_features}),
         dweight = Tensor::zeros({out_features, in_features}), dbias = Tensor::zeros({out_features});
  ops::linear_forward(x.wide, weight.wide, bias, y);
  ops::linear_backward(x.wide, weight.wide, dy.wide, dx, dweight, dbias);
  Tensor gpu_y = Tensor::empty(y.shape(), dtype, Device::CUDA), gpu_dx = Tensor::empty(dx.shape(), dtype, Device::CUDA);
  Tensor gpu_dweight = Tensor::zeros(dweight.shape(), DType::F32, Device::CUDA);
  Tensor gpu_dbias = Tensor::zeros({out_features}, DType::F32, Device::CUDA);
  testing::reset_library_calls();
  ops::linear_forward(x.low, weight.low, testing::copy_to(bias, Device::CUDA), gpu_y);
  ops::linear_backward(x.low, weight.low, dy.low, gpu_dx, gpu_dweight, gpu_dbias);
  testing::expect_library_calls_in(dtype, true, std::string("linear in ") + dtype_name(dtype));
  expect_near(gpu_y, y, dtype, in_features, "linear y");
  expect_near(gpu_dx, dx, dtype, out_features, "linear dx");
  // fp32 sums of exact products: only the order of the additions differs.
  testing::expect_close(testing::copy_to(gpu_dweight, Device::CPU), dweight, 1e-5, 1e-4, "linear dweight");
  testing::expect_close(testing::copy_to(gpu_dbias, Device::CPU), dbias, 1e-6, 1e-5, "linear dbias");
}

TEST_P(GpuLowPrecisionProductActivations, AttentionNearFp32Cpu) {
  DIFFUSE_REQUIRE_GPU();
  const DType dtype = GetParam();
  const int64_t batch = 2, tokens = 64, channels = 64;
  const int heads = 2;
  const Input qkv({batch, tokens, 3 * channels}, 21, dtype), dout({batch, tokens, channels}, 22, dtype);
  Tensor out = Tensor::empty({batch, tokens, channels}), probs = Tensor::empty({batch * heads, tokens, tokens}),
         dqkv = Tensor::empty(qkv.wide.shape());
  ops::attention_forward(qkv.wide, out, probs, heads);
  ops::attention_backward(qkv.wide, probs, dout.wide, dqkv, heads);
  Tensor gpu_out = Tensor::empty(out.shape(), dtype, Device::CUDA);
  Tensor gpu_probs = Tensor::empty(probs.shape(), DType::F32, Device::CUDA);
  Tensor gpu_dqkv = Tensor::empty(dqkv.shape(), dtype, Device::CUDA);
  testing::reset_library_calls();
  ops::attention_forward(qkv.low, gpu_out, gpu_probs, heads);
  ops::attention_backward(qkv.low, gpu_probs, dout.low, gpu_dqkv, heads);
  testing::expect_library_calls_in(dtype, true, std::string("attention in ") + dtype_name(dtype));
  testing::expect_close(testing::copy_to(gpu_probs, Device::CPU), probs, 1e-5, 1e-6, "attention probs");
  expect_near(gpu_out, out, dtype, tokens, "attention out");
  expect_near(gpu_dqkv, dqkv, dtype, tokens, "attention dqkv");
}

std::string dtype_case_name(const ::testing::TestParamInfo<DType>& info) { return dtype_name(info.param); }

INSTANTIATE_TEST_SUITE_P(Types, GpuLowPrecisionProductActivations, ::testing::Values(DType::BF16, DType::F16),
                         dtype_case_name);

}  // namespace
}  // namespace diffuse
