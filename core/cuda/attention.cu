// Multi-head self-attention over qkv [N,L,3C] on the GPU: per head h, out_h =
// softmax(q_h k_h^T / sqrt(D)) v_h with probs [N*heads,L,L] saved, and its
// backward into dqkv. The four products per pass are, per head,
// strided-batched cuBLAS GEMMs over the samples that read q_h, k_h and v_h
// (D = C / heads channels) in place as column slices of qkv (leading dimension
// 3C); the row softmax and its backward are warp-per-row kernels here.
//
// In bf16/fp16 the GEMMs read operand copies (qkv, dout, probs and the score
// gradients rounded once) and write fp32: probs, the softmax and the row dots
// stay fp32, as on the CPU.
#include <cmath>

#include "core/cuda/cuda_backend.h"
#include "core/cuda/gemm.h"
#include "core/cuda/kernel_support.cuh"
#include "core/cuda/kernels.h"
#include "core/matmul_precision.h"

namespace diffuse::cuda {

namespace {

// One warp per row of `width` scores, in place; `low` (optional) receives the
// probabilities rounded to the operand type for the next product.
template <typename Low>
__global__ void softmax_rows_kernel(float* scores, Low* low, int64_t rows, int64_t width) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const int lane = warp_lane();
  float* values = scores + row * width;
  float max_value = -INFINITY;
  for (int64_t j = lane; j < width; j += 32) max_value = fmaxf(max_value, values[j]);
  max_value = warp_max(max_value);
  float total = 0.0f;
  for (int64_t j = lane; j < width; j += 32) {
    const float e = expf(values[j] - max_value);  // the row max is subtracted so exp cannot overflow
    values[j] = e;
    total += e;
  }
  const float inverse = 1.0f / warp_sum(total);
  for (int64_t j = lane; j < width; j += 32) {
    const float p = values[j] * inverse;
    values[j] = p;
    if (low != nullptr) low[row * width + j] = from_float<Low>(p);
  }
}

// d scores = probs * (d probs - sum_j probs_j d probs_j), one warp per row; the
// dot in double as on the CPU. Written in place (fp32) or to `low`.
template <typename Low>
__global__ void softmax_rows_backward_kernel(const float* probs, float* grads, Low* low, int64_t rows, int64_t width) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const int lane = warp_lane();
  const float* p = probs + row * width;
  float* g = grads + row * width;
  double dot = 0.0;
  for (int64_t j = lane; j < width; j += 32) dot += static_cast<double>(p[j]) * g[j];
  const float expected = static_cast<float>(warp_sum(dot));
  for (int64_t j = lane; j < width; j += 32) {
    const float score_grad = p[j] * (g[j] - expected);
    if (low != nullptr) {
      low[row * width + j] = from_float<Low>(score_grad);
    } else {
      g[j] = score_grad;
    }
  }
}

template <typename Low>
void launch_softmax(float* scores, void* low, int64_t rows, int64_t width) {
  softmax_rows_kernel<<<blocks_for_rows(rows), kWarpsPerBlock * 32, 0, stream()>>>(scores, static_cast<Low*>(low), rows,
                                                                                   width);
  CUDA_CHECK_LAUNCH();
}

template <typename Low>
void launch_softmax_backward(const float* probs, float* grads, void* low, int64_t rows, int64_t width) {
  softmax_rows_backward_kernel<<<blocks_for_rows(rows), kWarpsPerBlock * 32, 0, stream()>>>(
      probs, grads, static_cast<Low*>(low), rows, width);
  CUDA_CHECK_LAUNCH();
}

void softmax(float* scores, const Tensor& low, int64_t rows, int64_t width) {
  if (rows == 0 || width == 0) return;
  if (!low.defined()) return launch_softmax<float>(scores, nullptr, rows, width);
  if (low.dtype() == DType::BF16) return launch_softmax<bf16>(scores, low.raw(), rows, width);
  launch_softmax<f16>(scores, low.raw(), rows, width);
}

void softmax_backward(const float* probs, float* grads, const Tensor& low, int64_t rows, int64_t width) {
  if (rows == 0 || width == 0) return;
  if (!low.defined()) return launch_softmax_backward<float>(probs, grads, nullptr, rows, width);
  if (low.dtype() == DType::BF16) return launch_softmax_backward<bf16>(probs, grads, low.raw(), rows, width);
  launch_softmax_backward<f16>(probs, grads, low.raw(), rows, width);
}

float score_scale(int64_t channels) { return channels > 0 ? 1.0f / std::sqrt(static_cast<float>(channels)) : 1.0f; }

// Element offset of a typed pointer, for the q / k / v column slices.
const void* offset(const Tensor& tensor, int64_t elements) {
  return static_cast<const char*>(tensor.raw()) + elements * static_cast<int64_t>(dtype_size(tensor.dtype()));
}

}  // namespace

void CudaBackend::attention_forward(const Tensor& qkv, const Tensor& out, const Tensor& probs, int heads) {
  const int64_t batch = qkv.dim(0), tokens = qkv.dim(1), channels = qkv.dim(2) / 3, stride = 3 * channels;
  const int64_t width = channels / heads, sample = tokens * stride, scores = tokens * tokens;
  const int64_t sample_scores = heads * scores;  // probs between samples, for one head
  const DType dtype = matmul_dtype();
  const Tensor packed = cast_copy(qkv, dtype);
  float* p = static_cast<float*>(probs.raw());
  for (int64_t h = 0; h < heads; ++h)  // scores = q_h k_h^T / sqrt(D)
    gemm(dtype, Transpose::No, Transpose::Yes, tokens, tokens, width, score_scale(width),
         {offset(packed, h * width), stride, sample}, {offset(packed, channels + h * width), stride, sample}, 0.0f,
         p + h * scores, tokens, sample_scores, batch);
  const Tensor probs_low = dtype == DType::F32 ? Tensor() : Tensor::empty(probs.shape(), dtype, Device::CUDA);
  softmax(p, probs_low, batch * heads * tokens, tokens);
  for (int64_t h = 0; h < heads; ++h) {  // out_h = probs_h v_h
    const Matrix probs_operand{offset(dtype == DType::F32 ? probs : probs_low, h * scores), tokens, sample_scores};
    gemm(dtype, Transpose::No, Transpose::No, tokens, width, tokens, 1.0f, probs_operand,
         {offset(packed, 2 * channels + h * width), stride, sample}, 0.0f, static_cast<float*>(out.raw()) + h * width,
         channels, tokens * channels, batch);
  }
}

void CudaBackend::attention_backward(const Tensor& qkv, const Tensor& probs, const Tensor& dout, const Tensor& dqkv,
                                     int heads) {
  const int64_t batch = qkv.dim(0), tokens = qkv.dim(1), channels = qkv.dim(2) / 3, stride = 3 * channels;
  const int64_t width = channels / heads, sample = tokens * stride, scores = tokens * tokens;
  const int64_t sample_scores = heads * scores;
  const float scale = score_scale(width);
  const DType dtype = matmul_dtype();
  const Tensor packed = cast_copy(qkv, dtype), grad_out = cast_copy(dout, dtype), p = cast_copy(probs, dtype);
  float* grad_packed = static_cast<float*>(dqkv.raw());

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
  softmax_backward(static_cast<const float*>(probs.raw()), dp, score_grads_low, batch * heads * tokens, tokens);
  for (int64_t h = 0; h < heads; ++h) {
    const Matrix q{offset(packed, h * width), stride, sample}, k{offset(packed, channels + h * width), stride, sample};
    const Matrix ds{offset(dtype == DType::F32 ? score_grads : score_grads_low, h * scores), tokens, sample_scores};
    gemm(dtype, Transpose::No, Transpose::No, tokens, width, tokens, scale, ds, k, 0.0f, grad_packed + h * width,
         stride, sample, batch);
    gemm(dtype, Transpose::Yes, Transpose::No, tokens, width, tokens, scale, ds, q, 0.0f,
         grad_packed + channels + h * width, stride, sample, batch);
  }
}

}  // namespace diffuse::cuda
