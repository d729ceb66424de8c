// CPU multi-head self-attention over qkv [N,L,3C]: per head h, out_h =
// softmax(q_h k_h^T / sqrt(D)) v_h with probs [N*heads,L,L] saved, and its
// backward into dqkv. q_h, k_h and v_h (D = C / heads channels each) are read
// in place as column slices of qkv (leading dimension 3C). Each product is one
// batched_gemm over all samples and heads (backward: over as many samples as
// the scratch budget holds at a time); in fp32 that is one threaded sgemm per
// matrix (gemm.h), and OpenMP threads the row-wise softmax between products.
//
// bf16 qkv multiplies in bf16 with fp32 accumulation, each product one oneDNN
// matmul over the whole batch (gemm_bf16.h): scores, probs, the softmax and its
// row dots are fp32, probs and score gradients are rounded to bf16 as the next
// product's operand, and out and dqkv are computed in fp32 and rounded once.
// Where the CPU cannot multiply bf16 the fp32 path runs on widened copies
// (widened.h).
#include <algorithm>
#include <type_traits>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/gemm.h"
#include "core/cpu/gemm_bf16.h"
#include "core/cpu/parallel.h"
#include "core/cpu/widened.h"
#include "core/float_storage.h"
#include "core/math/exp.h"
#include "core/math/score_scale.h"

namespace diffuse::cpu {

namespace {

thread_local ScratchBuffer score_grad_buffer;
thread_local ScratchBuffer operand_buffer;

// fp32 values as an operand of a product in T: themselves, or rounded to bf16 into operand_buffer.
template <typename T>
const T* operand(const float* values, int64_t count) {
  if constexpr (std::is_same_v<T, float>) {
    return values;
  } else {
    return rounded_bf16(values, count, operand_buffer);
  }
}

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

// q_h, k_h or v_h (`offset` 0, C or 2C) of every sample and head as read in place from packed qkv [N,L,3C].
template <typename T>
MatrixBatch<const T> packed_part(const T* packed, int64_t offset, int64_t tokens, int64_t channels, int heads) {
  return {packed + offset, tokens * 3 * channels, channels / heads, 3 * channels};
}

// The products in T (float or bf16) of packed qkv; probs and o (out) are fp32.
template <typename T>
void attend(const T* packed, int64_t batch, int64_t tokens, int64_t channels, int heads, float* p, float* o) {
  const int64_t width = channels / heads, score_count = tokens * tokens;
  const MatrixBatch<const T> q = packed_part(packed, 0, tokens, channels, heads),
                             k = packed_part(packed, channels, tokens, channels, heads),
                             v = packed_part(packed, 2 * channels, tokens, channels, heads);
  // scores = q_h k_h^T / sqrt(D)
  batched_gemm(Transpose::No, Transpose::Yes, batch, heads, tokens, tokens, width, score_scale(width), q, k,
               MatrixBatch<float>{p, heads * score_count, score_count, tokens});
  softmax_rows(p, batch * heads * tokens, tokens);
  const T* probs = operand<T>(p, batch * heads * score_count);
  // out_h = probs_h v_h
  batched_gemm(Transpose::No, Transpose::No, batch, heads, tokens, width, tokens, 1.0f,
               MatrixBatch<const T>{probs, heads * score_count, score_count, tokens}, v,
               MatrixBatch<float>{o, tokens * channels, width, channels});
}

// The backward products in T (float or bf16) of packed qkv and grad_out; probs and grad_packed (dqkv) are fp32.
template <typename T>
void attend_backward(const T* packed, const float* p, const T* grad_out, int64_t batch, int64_t tokens,
                     int64_t channels, int heads, float* grad_packed) {
  const int64_t stride = 3 * channels, width = channels / heads, score_count = tokens * tokens;
  const float scale = score_scale(width);
  // Score gradients need [samples, heads, L, L] of scratch; take as many samples at a time as the budget allows.
  const size_t sample_bytes = std::max<size_t>(1, static_cast<size_t>(heads * score_count) * sizeof(float));
  const int64_t group =
      std::max<int64_t>(1, std::min(batch, static_cast<int64_t>(scratch_budget_bytes() / sample_bytes)));
  float* score_grads = score_grad_buffer.get(static_cast<size_t>(group * heads * score_count));

  for (int64_t first = 0; first < batch; first += group) {
    const int64_t samples = std::min(batch, first + group) - first;
    const T* group_packed = packed + first * tokens * stride;
    const MatrixBatch<const T> q = packed_part(group_packed, 0, tokens, channels, heads),
                               k = packed_part(group_packed, channels, tokens, channels, heads),
                               v = packed_part(group_packed, 2 * channels, tokens, channels, heads),
                               grad_o{grad_out + first * tokens * channels, tokens * channels, width, channels};
    const MatrixBatch<float> grad_q{grad_packed + first * tokens * stride, tokens * stride, width, stride},
        grad_k{grad_q.data + channels, tokens * stride, width, stride},
        grad_v{grad_q.data + 2 * channels, tokens * stride, width, stride},
        grad_scores{score_grads, heads * score_count, score_count, tokens};
    const MatrixBatch<const T> probs{operand<T>(p + first * heads * score_count, samples * heads * score_count),
                                     heads * score_count, score_count, tokens};
    // d probs = dout_h v_h^T; dv_h = probs_h^T dout_h
    batched_gemm(Transpose::No, Transpose::Yes, samples, heads, tokens, tokens, width, 1.0f, grad_o, v, grad_scores);
    batched_gemm(Transpose::Yes, Transpose::No, samples, heads, tokens, width, tokens, 1.0f, probs, grad_o, grad_v);
    softmax_rows_backward(p + first * heads * score_count, score_grads, samples * heads * tokens, tokens);
    const MatrixBatch<const T> grad_score_operand{operand<T>(score_grads, samples * heads * score_count),
                                                  heads * score_count, score_count, tokens};
    // dq_h = d scores k_h / sqrt(D); dk_h = d scores^T q_h / sqrt(D)
    batched_gemm(Transpose::No, Transpose::No, samples, heads, tokens, width, tokens, scale, grad_score_operand, k,
                 grad_q);
    batched_gemm(Transpose::Yes, Transpose::No, samples, heads, tokens, width, tokens, scale, grad_score_operand, q,
                 grad_k);
  }
}

}  // namespace

void CpuBackend::attention_forward(const Tensor& qkv, const Tensor& out, const Tensor& probs, int heads) {
  const int64_t batch = qkv.dim(0), tokens = qkv.dim(1), channels = qkv.dim(2) / 3;
  if (qkv.dtype() == DType::F32) return attend(qkv.f32(), batch, tokens, channels, heads, probs.f32(), out.f32());
  const Tensor computed = f32_output(out);
  if (bf16_products_native()) {
    attend(storage_data<bf16>(qkv), batch, tokens, channels, heads, probs.f32(), computed.f32());
  } else {
    attend(widened(qkv).f32(), batch, tokens, channels, heads, probs.f32(), computed.f32());
  }
  round_into(computed, out);
}

void CpuBackend::attention_backward(const Tensor& qkv, const Tensor& probs, const Tensor& dout, const Tensor& dqkv,
                                    int heads) {
  const int64_t batch = qkv.dim(0), tokens = qkv.dim(1), channels = qkv.dim(2) / 3;
  if (qkv.dtype() == DType::F32)
    return attend_backward(qkv.f32(), probs.f32(), dout.f32(), batch, tokens, channels, heads, dqkv.f32());
  const Tensor computed = f32_output(dqkv);
  if (bf16_products_native()) {
    attend_backward(storage_data<bf16>(qkv), probs.f32(), storage_data<bf16>(dout), batch, tokens, channels, heads,
                    computed.f32());
  } else {
    attend_backward(widened(qkv).f32(), probs.f32(), widened(dout).f32(), batch, tokens, channels, heads,
                    computed.f32());
  }
  round_into(computed, dqkv);
}

}  // namespace diffuse::cpu
