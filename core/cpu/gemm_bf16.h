// Row-major bf16 GEMM with fp32 accumulation and an fp32 result, on oneDNN's
// matmul primitive (its AMX / AVX512-BF16 kernels): the CPU's linear layers and
// attention on bf16 activations. Call it only where cpu_multiplies_natively(BF16)
// (core/matmul_precision.h); elsewhere those ops compute in fp32 on widened copies.
#pragma once

#include <cstdint>

#include "core/cpu/gemm.h"
#include "core/half.h"

namespace diffuse::cpu {

// C[m,n] = alpha * op(A) op(B) + beta * C, as gemm (core/cpu/gemm.h) with bf16 A and B; beta is 0 or 1.
void gemm(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const bf16* a,
          int64_t lda, const bf16* b, int64_t ldb, float beta, float* c, int64_t ldc);

// batched_gemm (core/cpu/gemm.h) with bf16 A and B: one oneDNN matmul over all samples and heads, as the
// per-matrix calls would each pay its lookup and launch.
void batched_gemm(Transpose transpose_a, Transpose transpose_b, int64_t samples, int64_t heads, int64_t m, int64_t n,
                  int64_t k, float alpha, MatrixBatch<const bf16> a, MatrixBatch<const bf16> b, MatrixBatch<float> c);

// The first `count` values of `values` rounded to bf16 into `buffer` (grown on demand); returns the copy.
const bf16* rounded_bf16(const float* values, int64_t count, ScratchBuffer& buffer);

}  // namespace diffuse::cpu
