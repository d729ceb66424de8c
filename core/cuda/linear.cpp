// Linear layer on cuBLAS: y [M,N] = x [M,K] weight [N,K]^T + bias [N], and its
// backward (dx written, dweight and dbias accumulated). In bf16/fp16 the GEMMs
// read operand copies and write fp32 directly (fp32 accumulation), so dweight
// accumulates in fp32 without a separate pass.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/gemm.h"
#include "core/cuda/kernels.h"
#include "core/matmul_precision.h"

namespace diffuse::cuda {

void CudaBackend::linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y) {
  const int64_t rows = x.dim(0), in_features = x.dim(1), out_features = weight.dim(0);
  const DType dtype = matmul_dtype();
  const Tensor x_op = cast_copy(x, dtype), w_op = cast_copy(weight, dtype);
  float* out = static_cast<float*>(y.raw());
  // The bias is broadcast into y first and the GEMM adds onto it (beta = 1).
  if (bias.defined()) fill_rows(out, rows, out_features, static_cast<const float*>(bias.raw()));
  gemm(dtype, Transpose::No, Transpose::Yes, rows, out_features, in_features, 1.0f, {x_op.raw(), in_features},
       {w_op.raw(), in_features}, bias.defined() ? 1.0f : 0.0f, out, out_features);
}

void CudaBackend::linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                                  const Tensor& dweight, const Tensor& dbias) {
  const int64_t rows = x.dim(0), in_features = x.dim(1), out_features = weight.dim(0);
  if (dbias.defined())
    column_sums(static_cast<const float*>(dy.raw()), 1, rows, out_features, static_cast<float*>(dbias.raw()),
                Reduce::Accumulate);
  if (!dx.defined() && !dweight.defined()) return;
  const DType dtype = matmul_dtype();
  const Tensor dy_op = cast_copy(dy, dtype);
  if (dx.defined()) {  // dx [M,K] = dy [M,N] weight [N,K]
    const Tensor w_op = cast_copy(weight, dtype);
    gemm(dtype, Transpose::No, Transpose::No, rows, in_features, out_features, 1.0f, {dy_op.raw(), out_features},
         {w_op.raw(), in_features}, 0.0f, static_cast<float*>(dx.raw()), in_features);
  }
  if (dweight.defined()) {  // dweight [N,K] += dy^T x
    const Tensor x_op = cast_copy(x, dtype);
    gemm(dtype, Transpose::Yes, Transpose::No, out_features, in_features, rows, 1.0f, {dy_op.raw(), out_features},
         {x_op.raw(), in_features}, 1.0f, static_cast<float*>(dweight.raw()), in_features);
  }
}

}  // namespace diffuse::cuda
