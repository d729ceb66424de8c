// Multi-head self-attention over qkv [N,L,3C] on the GPU: per head h, out_h =
// softmax(q_h k_h^T / sqrt(D)) v_h with probs [N*heads,L,L] saved, and its
// backward into dqkv. The four products per pass are, per head,
// strided-batched cuBLAS GEMMs over the samples that read q_h, k_h and v_h
// (D = C / heads channels) in place as column slices of qkv (leading dimension
// 3C); the row softmax and its backward are warp-per-row kernels (softmax.cu).
//
// The GEMMs multiply in the product dtype of qkv (core/matmul_precision.h). In
// bf16/fp16 they read bf16/fp16 qkv and dout as they are (fp32 ones rounded
// into operand copies), probs and the score gradients rounded once, and write
// fp32: probs, the softmax and the row dots stay fp32, as on the CPU, and a
// bf16/fp16 out or dqkv is the fp32 result rounded once.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/gemm.h"
#include "core/cuda/kernels.h"
#include "core/math/score_scale.h"
#include "core/matmul_precision.h"

namespace diffuse::cuda {

namespace {

// Element offset of a typed pointer, for the q / k / v column slices.
const void* offset(const Tensor& tensor, int64_t elements) {
  return static_cast<const char*>(tensor.raw()) + elements * static_cast<int64_t>(dtype_size(tensor.dtype()));
}

}  // namespace

void CudaBackend::attention_forward(const Tensor& qkv, const Tensor& out, const Tensor& probs, int heads) {
  const int64_t batch = qkv.dim(0), tokens = qkv.dim(1), channels = qkv.dim(2) / 3, stride = 3 * channels;
  const int64_t width = channels / heads, sample = tokens * stride, scores = tokens * tokens;
  const int64_t sample_scores = heads * scores;  // probs between samples, for one head
  const DType dtype = product_dtype(qkv.dtype());
  const Tensor packed = cast_copy(qkv, dtype), result = f32_result(out);
  float* p = static_cast<float*>(probs.raw());
  for (int64_t h = 0; h < heads; ++h)  // scores = q_h k_h^T / sqrt(D)
    gemm(dtype, Transpose::No, Transpose::Yes, tokens, tokens, width, score_scale(width),
         {offset(packed, h * width), stride, sample}, {offset(packed, channels + h * width), stride, sample}, 0.0f,
         p + h * scores, tokens, sample_scores, batch);
  const Tensor probs_low = dtype == DType::F32 ? Tensor() : Tensor::empty(probs.shape(), dtype, Device::CUDA);
  softmax_rows(p, probs_low, batch * heads * tokens, tokens);
  for (int64_t h = 0; h < heads; ++h) {  // out_h = probs_h v_h
    const Matrix probs_operand{offset(dtype == DType::F32 ? probs : probs_low, h * scores), tokens, sample_scores};
    gemm(dtype, Transpose::No, Transpose::No, tokens, width, tokens, 1.0f, probs_operand,
         {offset(packed, 2 * channels + h * width), stride, sample}, 0.0f,
         static_cast<float*>(result.raw()) + h * width, channels, tokens * channels, batch);
  }
  round_into(result, out);
}

void CudaBackend::attention_backward(const Tensor& qkv, const Tensor& probs, const Tensor& dout, const Tensor& dqkv,
                                     int heads) {
  const int64_t batch = qkv.dim(0), tokens = qkv.dim(1), channels = qkv.dim(2) / 3, stride = 3 * channels;
  const int64_t width = channels / heads, sample = tokens * stride, scores = tokens * tokens;
  const int64_t sample_scores = heads * scores;
  const float scale = score_scale(width);
  const DType dtype = product_dtype(qkv.dtype());
  const Tensor packed = cast_copy(qkv, dtype), grad_out = cast_copy(dout, dtype), p = cast_copy(probs, dtype);
  const Tensor result = f32_result(dqkv);
  float* grad_packed = static_cast<float*>(result.raw());

  // d probs = dout_h v_h^T (fp32 scratch), dv_h = probs_h^T dout_h
  const Tensor score_grads = Tensor::empty(probs.shape(), DType::F32, Device::CUDA);
  float* dp = static_cast<float*>(score_grads.raw());
  for (int64_t h = 0; h < heads; ++h) {
    const Matrix v{offset(packed, 2 * channels + h * width), stride, sample};
    const Matrix dy{offset(grad_out, h * width), channels, tokens * channels};
    gemm(dtype, Transpose::No, Transpose::Yes, tokens, tokens, width, 1.0f, dy, v, 0.0f, dp + h * scores, tokens,
         sample_scores, batch);
    gemm(dtype, Transpose::Yes, Transpose::No, tokens, width, tokens, 1.0f,
         {offset(p, h * scores), tokens, sample_scores}, dy, 0.0f, grad_packed + 2 * channels + h * width, stride,
         sample, batch);
  }

  // d scores, then dq_h = d scores k_h / sqrt(D) and dk_h = d scores^T q_h / sqrt(D)
  const Tensor score_grads_low = dtype == DType::F32 ? Tensor() : Tensor::empty(probs.shape(), dtype, Device::CUDA);
  softmax_rows_backward(static_cast<const float*>(probs.raw()), dp, score_grads_low, batch * heads * tokens, tokens);
  for (int64_t h = 0; h < heads; ++h) {
    const Matrix q{offset(packed, h * width), stride, sample}, k{offset(packed, channels + h * width), stride, sample};
    const Matrix ds{offset(dtype == DType::F32 ? score_grads : score_grads_low, h * scores), tokens, sample_scores};
    gemm(dtype, Transpose::No, Transpose::No, tokens, width, tokens, scale, ds, k, 0.0f, grad_packed + h * width,
         stride, sample, batch);
    gemm(dtype, Transpose::Yes, Transpose::No, tokens, width, tokens, scale, ds, q, 0.0f,
         grad_packed + channels + h * width, stride, sample, batch);
  }
  round_into(result, dqkv);
}

}  // namespace diffuse::cuda
