// Row-major GEMMs on cuBLAS, the layout the rest of diffuse uses, batched with
// strides (attention runs one product per sample in one call). Operands A and
// B are fp32, bf16 or fp16; C is always fp32 and accumulation is fp32: exact
// fp32 arithmetic for fp32 operands (no TF32), tensor cores for bf16/fp16.
// Plain C++: no CUDA headers. The argument translation is core/gemm_mapping.h.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/gemm_mapping.h"

namespace diffuse::cuda {

using blas::Transpose;

// One operand: its first element, the row stride as stored (q inside qkv has
// 3C) and the distance between consecutive matrices of a batch.
struct Matrix {
  const void* data;
  int64_t ld;
  int64_t batch_stride = 0;
};

// C[m,n] = alpha * op(A) op(B) + beta * C for each of `batch` matrices, as the
// CPU backend's gemm (core/cpu/gemm.h): op(A) is [m,k], op(B) is [k,n]. With
// beta = 0, C is overwritten even if it holds NaN.
void gemm(DType operands, Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const Matrix& a, const Matrix& b, float beta, float* c, int64_t ldc, int64_t c_batch_stride = 0,
          int64_t batch = 1);

}  // namespace diffuse::cuda
