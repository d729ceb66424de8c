// Launchers one op family provides to the others (conv, linear and attention
// reuse the casts, the bias kernels, the column sums and the row softmax). All
// run on the compute stream; pointers are device pointers. Plain C++: no CUDA
// headers.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace diffuse::cuda {

// ---- cast.cu ----------------------------------------------------------------
// `source` itself when it already has `dtype`, else a new CUDA tensor holding it
// converted (round to nearest even): the operand copy a bf16/fp16 product reads.
Tensor cast_copy(const Tensor& source, DType dtype);
// `output` itself when it is f32, else a new f32 CUDA tensor of its shape: where a product writes its fp32 result
// before it is rounded into `output` once (round_into, or bias_epilogue when a bias is added on the way).
Tensor f32_result(const Tensor& output);
// output = result rounded to output's type (round to nearest even); nothing when result is output.
void round_into(const Tensor& result, const Tensor& output);
// y[i] += float(x[i]), x of x_type: folds a bf16/fp16 weight gradient into the fp32 one.
void add_widened(const void* x, DType x_type, float* y, int64_t count);

// ---- bias.cu ----------------------------------------------------------------
// y[r, c] = source[r, c] + bias[c] + residual[r, c] for rows x cols, computed in fp32 and rounded once to y's
// type (residual has y's type); bias and residual may be null; source may be y itself. The epilogue of a
// convolution or GEMM: widening or rounding, bias and skip connection in one pass.
void bias_epilogue(const void* source, DType source_type, const float* bias, const void* residual, int64_t rows,
                   int64_t cols, void* y, DType y_type);
// y[r, :] = vector for every row (a bias broadcast before a beta = 1 GEMM).
void fill_rows(float* y, int64_t rows, int64_t cols, const float* vector);

enum class Reduce { Write, Accumulate };
// out[b, c] = (or +=) sum over r of x[b, r, c], x [batches, rows, cols] of x_type (f32, bf16 or f16). Partial
// sums per chunk of rows, chunks added in a fixed order, all in double: the same bits on every run.
void column_sums(const void* x, DType x_type, int64_t batches, int64_t rows, int64_t cols, float* out, Reduce mode);
inline void column_sums(const float* x, int64_t batches, int64_t rows, int64_t cols, float* out, Reduce mode) {
  column_sums(x, DType::F32, batches, rows, cols, out, mode);
}

// ---- softmax.cu -------------------------------------------------------------
// Each of `rows` rows of `width` fp32 scores becomes its softmax, in place; `low`, when defined (bf16 or f16, as
// many elements), also receives the probabilities rounded: the next product's operand.
void softmax_rows(float* scores, const Tensor& low, int64_t rows, int64_t width);
// grads (d probs on entry) becomes d scores = probs * (d probs - sum_j probs_j d probs_j), in place, or is written
// rounded to `low` when it is defined.
void softmax_rows_backward(const float* probs, float* grads, const Tensor& low, int64_t rows, int64_t width);

}  // namespace diffuse::cuda
