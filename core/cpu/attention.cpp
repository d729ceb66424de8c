// CPU single-head self-attention over qkv [N,L,3C]: out = softmax(q k^T / sqrt(C)) v
// with probs [N,L,L] saved, and its backward into dqkv. q, k and v are read in
// place as column slices of qkv (leading dimension 3C); the GEMM threads each
// per-sample product and OpenMP the row-wise softmax between them.
#include <algorithm>
#include <cmath>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/gemm.h"
#include "core/cpu/parallel.h"
#include "core/math/exp.h"

namespace diffuse::cpu {

namespace {

thread_local ScratchBuffer score_grad_buffer;

float score_scale(int64_t channels) { return channels > 0 ? 1.0f / std::sqrt(static_cast<float>(channels)) : 1.0f; }

// Each of `count` rows of `width` scores becomes its softmax; the row max is subtracted so exp cannot overflow.
// The loops vectorize: exp_vectorizable instead of libm's, and simd reductions (their order is fixed by the
// binary, so results repeat exactly).
void softmax_rows(float* scores, int64_t count, int64_t width) {
#pragma omp parallel for schedule(static) if (worth_threads(count * width))
  for (int64_t row = 0; row < count; ++row) {
    float* values = scores + row * width;
    float max_value = values[0];
#pragma omp simd reduction(max : max_value)
    for (int64_t j = 0; j < width; ++j) max_value = std::max(max_value, values[j]);
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) values[j] = exp_vectorizable(values[j] - max_value);
    float total = 0.0f;
#pragma omp simd reduction(+ : total)
    for (int64_t j = 0; j < width; ++j) total += values[j];
    const float inverse = 1.0f / total;
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) values[j] *= inverse;
  }
}

// Softmax backward per row, in place: grads (d probs on entry) becomes
// d scores = probs * (d probs - sum_j probs_j d probs_j).
void softmax_rows_backward(const float* probs, float* grads, int64_t count, int64_t width) {
#pragma omp parallel for schedule(static) if (worth_threads(count * width))
  for (int64_t row = 0; row < count; ++row) {
    const float* p = probs + row * width;
    float* g = grads + row * width;
    double dot = 0.0;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < width; ++j) dot += static_cast<double>(p[j]) * g[j];
    const float expected = static_cast<float>(dot);
    for (int64_t j = 0; j < width; ++j) g[j] = p[j] * (g[j] - expected);
  }
}

}  // namespace

void CpuBackend::attention_forward(const Tensor& qkv, const Tensor& out, const Tensor& probs) {
  const int64_t batch = qkv.dim(0), tokens = qkv.dim(1), channels = qkv.dim(2) / 3, stride = 3 * channels;
  const float scale = score_scale(channels);
  const float* packed = qkv.f32();
  float* p = probs.f32();
  float* o = out.f32();
  for (int64_t n = 0; n < batch; ++n) {  // scores = q k^T / sqrt(C)
    const float* q = packed + n * tokens * stride;
    gemm(Transpose::No, Transpose::Yes, tokens, tokens, channels, scale, q, stride, q + channels, stride, 0.0f,
         p + n * tokens * tokens, tokens);
  }
  softmax_rows(p, batch * tokens, tokens);
  for (int64_t n = 0; n < batch; ++n) {  // out = probs v
    const float* v = packed + n * tokens * stride + 2 * channels;
    gemm(Transpose::No, Transpose::No, tokens, channels, tokens, 1.0f, p + n * tokens * tokens, tokens, v, stride, 0.0f,
         o + n * tokens * channels, channels);
  }
}

void CpuBackend::attention_backward(const Tensor& qkv, const Tensor& probs, const Tensor& dout, const Tensor& dqkv) {
  const int64_t batch = qkv.dim(0), tokens = qkv.dim(1), channels = qkv.dim(2) / 3, stride = 3 * channels;
  const int64_t score_count = tokens * tokens;
  const float scale = score_scale(channels);
  const float* packed = qkv.f32();
  const float* p = probs.f32();
  const float* grad_out = dout.f32();
  float* grad_packed = dqkv.f32();
  // Score gradients need [samples, L, L] of scratch; take as many samples at a time as the budget allows.
  const size_t sample_bytes = std::max<size_t>(1, static_cast<size_t>(score_count) * sizeof(float));
  const int64_t group =
      std::max<int64_t>(1, std::min(batch, static_cast<int64_t>(scratch_budget_bytes() / sample_bytes)));
  float* score_grads = score_grad_buffer.get(static_cast<size_t>(group * score_count));

  for (int64_t first = 0; first < batch; first += group) {
    const int64_t last = std::min(batch, first + group);
    for (int64_t n = first; n < last; ++n) {
      const float* v = packed + n * tokens * stride + 2 * channels;
      const float* grad_o = grad_out + n * tokens * channels;
      // d probs = dout v^T
      gemm(Transpose::No, Transpose::Yes, tokens, tokens, channels, 1.0f, grad_o, channels, v, stride, 0.0f,
           score_grads + (n - first) * score_count, tokens);
      // dv = probs^T dout
      gemm(Transpose::Yes, Transpose::No, tokens, channels, tokens, 1.0f, p + n * score_count, tokens, grad_o, channels,
           0.0f, grad_packed + n * tokens * stride + 2 * channels, stride);
    }
    softmax_rows_backward(p + first * score_count, score_grads, (last - first) * tokens, tokens);
    for (int64_t n = first; n < last; ++n) {
      const float* q = packed + n * tokens * stride;
      const float* k = q + channels;
      const float* grad_scores = score_grads + (n - first) * score_count;
      float* grad_q = grad_packed + n * tokens * stride;
      // dq = d scores k / sqrt(C); dk = d scores^T q / sqrt(C)
      gemm(Transpose::No, Transpose::No, tokens, channels, tokens, scale, grad_scores, tokens, k, stride, 0.0f, grad_q,
           stride);
      gemm(Transpose::Yes, Transpose::No, tokens, channels, tokens, scale, grad_scores, tokens, q, stride, 0.0f,
           grad_q + channels, stride);
    }
  }
}

}  // namespace diffuse::cpu
