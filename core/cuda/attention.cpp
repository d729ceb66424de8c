// Single-head self-attention over qkv [N,L,3C] on the GPU: out = softmax(q k^T /
// sqrt(C)) v with probs [N,L,L] saved, and its backward into dqkv. The four
// products per pass are strided-batched cuBLAS GEMMs over the samples that
// read q, k and v in place as column slices of qkv (leading dimension 3C);
// the row softmax and its backward are warp-per-row kernels (softmax.cu).
//
// In bf16/fp16 the GEMMs read operand copies (qkv, dout, probs and the score
// gradients rounded once) and write fp32: probs, the softmax and the row dots
// stay fp32, as on the CPU.
#include <cmath>

#include "core/cuda/cuda_backend.h"
#include "core/cuda/gemm.h"
#include "core/cuda/kernels.h"
#include "core/matmul_precision.h"

namespace diffuse::cuda {

namespace {

float score_scale(int64_t channels) { return channels > 0 ? 1.0f / std::sqrt(static_cast<float>(channels)) : 1.0f; }

// Element offset of a typed pointer, for the q / k / v column slices.
const void* offset(const Tensor& tensor, int64_t elements) {
  return static_cast<const char*>(tensor.raw()) + elements * static_cast<int64_t>(dtype_size(tensor.dtype()));
}

}  // namespace

void CudaBackend::attention_forward(const Tensor& qkv, const Tensor& out, const Tensor& probs) {
  const int64_t batch = qkv.dim(0), tokens = qkv.dim(1), channels = qkv.dim(2) / 3, stride = 3 * channels;
  const int64_t sample = tokens * stride, scores = tokens * tokens;
  const DType dtype = matmul_dtype();
  const Tensor packed = cast_copy(qkv, dtype);
  float* p = static_cast<float*>(probs.raw());
  // scores = q k^T / sqrt(C)
  gemm(dtype, Transpose::No, Transpose::Yes, tokens, tokens, channels, score_scale(channels),
       {offset(packed, 0), stride, sample}, {offset(packed, channels), stride, sample}, 0.0f, p, tokens, scores, batch);
  const Tensor probs_low = dtype == DType::F32 ? Tensor() : Tensor::empty(probs.shape(), dtype, Device::CUDA);
  softmax_rows(p, probs_low, batch * tokens, tokens);
  // out = probs v
  const Matrix probs_operand{dtype == DType::F32 ? probs.raw() : probs_low.raw(), tokens, scores};
  gemm(dtype, Transpose::No, Transpose::No, tokens, channels, tokens, 1.0f, probs_operand,
       {offset(packed, 2 * channels), stride, sample}, 0.0f, static_cast<float*>(out.raw()), channels,
       tokens * channels, batch);
}

void CudaBackend::attention_backward(const Tensor& qkv, const Tensor& probs, const Tensor& dout, const Tensor& dqkv) {
  const int64_t batch = qkv.dim(0), tokens = qkv.dim(1), channels = qkv.dim(2) / 3, stride = 3 * channels;
  const int64_t sample = tokens * stride, scores = tokens * tokens;
  const float scale = score_scale(channels);
  const DType dtype = matmul_dtype();
  const Tensor packed = cast_copy(qkv, dtype), grad_out = cast_copy(dout, dtype), p = cast_copy(probs, dtype);
  float* grad_packed = static_cast<float*>(dqkv.raw());
  const Matrix q{offset(packed, 0), stride, sample}, k{offset(packed, channels), stride, sample};
  const Matrix v{offset(packed, 2 * channels), stride, sample}, dy{grad_out.raw(), channels, tokens * channels};

  // d probs = dout v^T (fp32 scratch), dv = probs^T dout
  const Tensor score_grads = Tensor::empty(probs.shape(), DType::F32, Device::CUDA);
  float* dp = static_cast<float*>(score_grads.raw());
  gemm(dtype, Transpose::No, Transpose::Yes, tokens, tokens, channels, 1.0f, dy, v, 0.0f, dp, tokens, scores, batch);
  gemm(dtype, Transpose::Yes, Transpose::No, tokens, channels, tokens, 1.0f, {p.raw(), tokens, scores}, dy, 0.0f,
       grad_packed + 2 * channels, stride, sample, batch);

  // d scores, then dq = d scores k / sqrt(C) and dk = d scores^T q / sqrt(C)
  const Tensor score_grads_low = dtype == DType::F32 ? Tensor() : Tensor::empty(probs.shape(), dtype, Device::CUDA);
  softmax_rows_backward(static_cast<const float*>(probs.raw()), dp, score_grads_low, batch * tokens, tokens);
  const Matrix ds{dtype == DType::F32 ? score_grads.raw() : score_grads_low.raw(), tokens, scores};
  gemm(dtype, Transpose::No, Transpose::No, tokens, channels, tokens, scale, ds, k, 0.0f, grad_packed, stride, sample,
       batch);
  gemm(dtype, Transpose::Yes, Transpose::No, tokens, channels, tokens, scale, ds, q, 0.0f, grad_packed + channels,
       stride, sample, batch);
}

}  // namespace diffuse::cuda
