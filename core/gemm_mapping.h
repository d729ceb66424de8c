// Pure, host-only translation of a row-major GEMM into column-major BLAS arguments: no CUDA headers and no
// pointers, so every build, GPU or not, tests exactly the arguments the CUDA backend hands to cuBLAS.
//
// Row-major C [m,n] is column-major C^T [n,m] = op(B)^T [n,k] op(A)^T [k,m]: the BLAS call swaps the operands
// and the sizes m and n, and keeps each operand's transpose, leading dimension and batch stride.
#pragma once

#include <cstdint>

namespace diffuse::blas {

enum class Transpose { No, Yes };

// C[m,n] = alpha * op(A) op(B) + beta * C for each of `batch` matrices, all row-major: op(A) is [m,k] and op(B)
// is [k,n]; lda/ldb/ldc are the row strides as stored (q inside qkv has 3C) and the batch strides the distance
// between consecutive matrices (0: every product reads the same A or B). With beta = 0, C is overwritten even if
// it holds NaN.
struct RowMajorGemm {
  Transpose transpose_a = Transpose::No;
  Transpose transpose_b = Transpose::No;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f;
  float beta = 0.0f;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t a_batch_stride = 0, b_batch_stride = 0, c_batch_stride = 0;
  int64_t batch = 1;
};

// What the column-major side has to do. Empty products (k = 0) leave C = beta * C, which is a clear for
// beta = 0 and nothing for beta = 1 (the only two diffuse uses there).
enum class Work { Nothing, ClearC, Gemm };

// BLAS's op(X): X as stored, or its transpose.
enum class Op { N, T };

// One of the row-major call's operands, to say whose pointer goes where.
enum class Operand { A, B };

// The column-major strided batched GEMM, in the order of cublasGemmStridedBatchedEx:
// C [m,n] = alpha * op_a(A) op_b(B) + beta * C with op_a(A) [m,k] and op_b(B) [k,n], all column-major, where
// BLAS's A is the row-major call's operand `a_from` and BLAS's B is `b_from`. For Work::ClearC only m, n, ldc,
// stride_c and batch matter: each column-major m x n matrix of C becomes zero.
struct ColumnMajorGemm {
  Work work = Work::Nothing;
  Op op_a = Op::N, op_b = Op::N;
  int m = 0, n = 0, k = 0;
  Operand a_from = Operand::B, b_from = Operand::A;
  int lda = 0, ldb = 0, ldc = 0;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  int batch = 0;
  float alpha = 1.0f, beta = 0.0f;
};

// Validates `gemm` (sizes and strides non-negative, every size fitting BLAS's int, leading dimensions at least
// the stored row length, one C per product) and translates it; throws diffuse::Error naming the bad argument.
ColumnMajorGemm to_column_major(const RowMajorGemm& gemm);

}  // namespace diffuse::blas
