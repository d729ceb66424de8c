// Row-major single-precision GEMM on oneDNN, plus the small helpers the
// GEMM-shaped CPU ops share (scratch memory, bias broadcast and reduction).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/half.h"

namespace diffuse::cpu {

enum class Transpose { No, Yes };

// C[m,n] = alpha * op(A) op(B) + beta * C, all row-major. op(A) is [m,k] and
// op(B) is [k,n]; lda/ldb/ldc are the row strides of A, B, C as stored, so a
// column slice of a wider matrix (q inside qkv) needs no copy. With beta = 0,
// C is overwritten even if it holds NaN. Runs on OpenMP threads: do not call
// from inside an OpenMP parallel region.
void gemm(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// A [samples, heads] grid of row-major matrices as stored: matrix (s, h) starts at
// data + s * sample_stride + h * head_stride and has row stride ld, so the heads
// of q inside packed qkv [N,L,3C] are a batch with no copy.
template <typename T>
struct MatrixBatch {
  T* data;
  int64_t sample_stride, head_stride, ld;

  T* at(int64_t sample, int64_t head) const { return data + sample * sample_stride + head * head_stride; }
};

// C_(s,h) = alpha * op(A_(s,h)) op(B_(s,h)) for every sample s and head h, overwriting C; one gemm per matrix.
void batched_gemm(Transpose transpose_a, Transpose transpose_b, int64_t samples, int64_t heads, int64_t m, int64_t n,
                  int64_t k, float alpha, MatrixBatch<const float> a, MatrixBatch<const float> b, MatrixBatch<float> c);

// rows x cols matrix: every row = vector (bias broadcast before a beta = 1 GEMM).
void fill_rows(float* matrix, int64_t rows, int64_t cols, const float* vector);

// sums[c] += sum over rows of matrix[r, c]; summed in double, in an order that
// does not depend on the thread count.
void add_column_sums(const float* matrix, int64_t rows, int64_t cols, float* sums);
void add_column_sums(const bf16* matrix, int64_t rows, int64_t cols, float* sums);

// The most scratch memory one op call may hold (im2col patches, attention
// score gradients); larger problems are processed in chunks. Tests lower it
// to exercise the chunking.
size_t scratch_budget_bytes();
void set_scratch_budget_bytes(size_t bytes);

// A grow-only float buffer, meant to be thread_local, so hot paths allocate
// only when a problem is larger than any seen before. Contents are undefined;
// the memory is 64-byte aligned.
class ScratchBuffer {
 public:
  float* get(size_t count);

 private:
  struct AlignedDelete {
    void operator()(float* data) const;
  };
  std::unique_ptr<float, AlignedDelete> data_;
  size_t capacity_ = 0;
};

}  // namespace diffuse::cpu
