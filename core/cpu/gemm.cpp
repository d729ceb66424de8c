// Row-major sgemm on oneDNN (dnnl_sgemm, whose kernels follow the CPU's
// instruction sets), and the helpers declared in gemm.h.
#include "core/cpu/gemm.h"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>

#include "core/cpu/parallel.h"
#include "core/error.h"

namespace diffuse::cpu {

namespace {

std::atomic<size_t> scratch_budget{size_t{64} << 20};

char to_dnnl(Transpose transpose) { return transpose == Transpose::Yes ? 'T' : 'N'; }

}  // namespace

void gemm(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    // The product is zero, so only beta acts (and empty operands need no valid leading dimensions).
    for (int64_t row = 0; row < m; ++row) {
      float* c_row = c + row * ldc;
      if (beta == 0.0f) {
        std::memset(c_row, 0, static_cast<size_t>(n) * sizeof(float));
      } else {
        for (int64_t col = 0; col < n; ++col) c_row[col] *= beta;
      }
    }
    return;
  }
  const dnnl_status_t status =
      dnnl_sgemm(to_dnnl(transpose_a), to_dnnl(transpose_b), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  DIFFUSE_CHECK(status == dnnl_success, "gemm: dnnl_sgemm failed (status ", static_cast<int>(status), ") for m=", m,
                " n=", n, " k=", k, " lda=", lda, " ldb=", ldb, " ldc=", ldc);
}

void batched_gemm(Transpose transpose_a, Transpose transpose_b, int64_t samples, int64_t heads, int64_t m, int64_t n,
                  int64_t k, float alpha, MatrixBatch<const float> a, MatrixBatch<const float> b,
                  MatrixBatch<float> c) {
  for (int64_t sample = 0; sample < samples; ++sample)
    for (int64_t head = 0; head < heads; ++head)
      gemm(transpose_a, transpose_b, m, n, k, alpha, a.at(sample, head), a.ld, b.at(sample, head), b.ld, 0.0f,
           c.at(sample, head), c.ld);
}

void fill_rows(float* matrix, int64_t rows, int64_t cols, const float* vector) {
  const size_t row_bytes = static_cast<size_t>(cols) * sizeof(float);
#pragma omp parallel for schedule(static) if (worth_threads(rows * cols))
  for (int64_t row = 0; row < rows; ++row) std::memcpy(matrix + row * cols, vector, row_bytes);
}

namespace {

template <typename T>
void sum_columns(const T* matrix, int64_t rows, int64_t cols, float* sums) {
  // Threads own disjoint blocks of one cache line of columns, so no reduction
  // across threads is needed and the result is the same for any thread count.
  constexpr int64_t kBlock = 16;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (worth_threads(rows * cols))
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t first = block * kBlock, width = std::min(kBlock, cols - first);
    double partial[kBlock] = {};
    for (int64_t row = 0; row < rows; ++row) {
      const T* values = matrix + row * cols + first;
      for (int64_t j = 0; j < width; ++j) partial[j] += to_float(values[j]);
    }
    for (int64_t j = 0; j < width; ++j) sums[first + j] += static_cast<float>(partial[j]);
  }
}

}  // namespace

void add_column_sums(const float* matrix, int64_t rows, int64_t cols, float* sums) {
  sum_columns(matrix, rows, cols, sums);
}

void add_column_sums(const bf16* matrix, int64_t rows, int64_t cols, float* sums) {
  sum_columns(matrix, rows, cols, sums);
}

size_t scratch_budget_bytes() { return scratch_budget.load(std::memory_order_relaxed); }

void set_scratch_budget_bytes(size_t bytes) { scratch_budget.store(bytes, std::memory_order_relaxed); }

float* ScratchBuffer::get(size_t count) {
  if (count > capacity_) {
    data_.reset();  // release first so the old and new buffers never coexist
    capacity_ = 0;  // (and stay consistent if the allocation below throws)
    // Cache-line aligned: oneDNN's kernels read whole lines.
    data_.reset(static_cast<float*>(::operator new[](count * sizeof(float), std::align_val_t{64})));
    capacity_ = count;
  }
  return data_.get();
}

void ScratchBuffer::AlignedDelete::operator()(float* data) const { ::operator delete[](data, std::align_val_t{64}); }

}  // namespace diffuse::cpu
