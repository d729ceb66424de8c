// Linear layer on cuBLAS: y [M,N] = x [M,K] weight [N,K]^T + bias [N], and its
// backward (dx written, dweight and dbias accumulated). The GEMMs multiply in
// the product dtype of x (core/matmul_precision.h): bf16/fp16 activations and
// weight copies are read as they are, fp32 ones rounded into operand copies
// when the matmul dtype asks. The GEMMs write fp32 (fp32 accumulation), so
// dweight accumulates in fp32 without a separate pass; a bf16/fp16 y or dx is
// that result rounded once (with the bias, for y).
#include "core/cuda/cuda_backend.h"
#include "core/cuda/gemm.h"
#include "core/cuda/kernels.h"
#include "core/matmul_precision.h"

namespace diffuse::cuda {

void CudaBackend::linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y) {
  const int64_t rows = x.dim(0), in_features = x.dim(1), out_features = weight.dim(0);
  const DType dtype = product_dtype(x.dtype());
  const Tensor x_op = cast_copy(x, dtype), w_op = cast_copy(weight, dtype);
  const float* bias_data = bias.defined() ? static_cast<const float*>(bias.raw()) : nullptr;
  if (y.dtype() == DType::F32) {
    float* out = static_cast<float*>(y.raw());
    // The bias is broadcast into y first and the GEMM adds onto it (beta = 1).
    if (bias_data != nullptr) fill_rows(out, rows, out_features, bias_data);
    gemm(dtype, Transpose::No, Transpose::Yes, rows, out_features, in_features, 1.0f, {x_op.raw(), in_features},
         {w_op.raw(), in_features}, bias_data != nullptr ? 1.0f : 0.0f, out, out_features);
    return;
  }
  const Tensor product = f32_result(y);  // rounded into y with the bias added, once
  gemm(dtype, Transpose::No, Transpose::Yes, rows, out_features, in_features, 1.0f, {x_op.raw(), in_features},
       {w_op.raw(), in_features}, 0.0f, static_cast<float*>(product.raw()), out_features);
  bias_epilogue(product.raw(), DType::F32, bias_data, nullptr, rows, out_features, y.raw(), y.dtype());
}

void CudaBackend::linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                                  const Tensor& dweight, const Tensor& dbias) {
  const int64_t rows = x.dim(0), in_features = x.dim(1), out_features = weight.dim(0);
  if (dbias.defined())
    column_sums(dy.raw(), dy.dtype(), 1, rows, out_features, static_cast<float*>(dbias.raw()), Reduce::Accumulate);
  if (!dx.defined() && !dweight.defined()) return;
  const DType dtype = product_dtype(x.dtype());
  const Tensor dy_op = cast_copy(dy, dtype);
  if (dx.defined()) {  // dx [M,K] = dy [M,N] weight [N,K]
    const Tensor w_op = cast_copy(weight, dtype);
    const Tensor product = f32_result(dx);
    gemm(dtype, Transpose::No, Transpose::No, rows, in_features, out_features, 1.0f, {dy_op.raw(), out_features},
         {w_op.raw(), in_features}, 0.0f, static_cast<float*>(product.raw()), in_features);
    round_into(product, dx);
  }
  if (dweight.defined()) {  // dweight [N,K] += dy^T x, in fp32 whatever the activations' type
    const Tensor x_op = cast_copy(x, dtype);
    gemm(dtype, Transpose::Yes, Transpose::No, out_features, in_features, rows, 1.0f, {dy_op.raw(), out_features},
         {x_op.raw(), in_features}, 1.0f, static_cast<float*>(dweight.raw()), in_features);
  }
}

}  // namespace diffuse::cuda
