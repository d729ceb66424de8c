#include "core/cpu/gemm_bf16.h"

#include <algorithm>
#include <array>
#include <map>
#include <utility>

#include "core/cpu/dnnl_support.h"
#include "core/cpu/parallel.h"
#include "core/error.h"

namespace diffuse::cpu {

namespace {

using dnnl::memory;

// (transpose_a, transpose_b, m, n, k, lda, ldb, ldc, accumulate) and alpha.
using MatmulKey = std::pair<std::array<int64_t, 9>, float>;

// A row-major matrix of `rows` x `cols` as stored, read transposed or not.
memory::desc matrix(int64_t rows, int64_t cols, int64_t ld, Transpose transpose, memory::data_type type) {
  const memory::dims strides = transpose == Transpose::No ? memory::dims{ld, 1} : memory::dims{1, ld};
  return memory::desc({rows, cols}, type, strides);
}

// A matmul primitive with its description (for its memory descriptors).
struct Matmul {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul primitive;
};

Matmul make_matmul(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
                   int64_t lda, int64_t ldb, int64_t ldc, bool accumulate) {
  const memory::data_type bf16_type = memory::data_type::bf16, f32 = memory::data_type::f32;
  const dnnl::matmul::desc desc(matrix(m, k, lda, transpose_a, bf16_type), matrix(k, n, ldb, transpose_b, bf16_type),
                                matrix(m, n, ldc, Transpose::No, f32));
  dnnl::primitive_attr attr;
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (accumulate) {
    dnnl::post_ops sum;
    sum.append_sum(1.0f);
    attr.set_post_ops(sum);
  }
  const dnnl::matmul::primitive_desc pd(desc, attr, dnnl_engine());
  return {pd, dnnl::matmul(pd)};
}

// (transpose_a, transpose_b, samples, heads, m, n, k, then A's, B's and C's strides).
using BatchedMatmulKey = std::array<int64_t, 16>;

// A [samples, heads] batch of `rows` x `cols` matrices as stored, read transposed or not.
template <typename T>
memory::desc matrices(int64_t samples, int64_t heads, int64_t rows, int64_t cols, const MatrixBatch<T>& batch,
                      Transpose transpose, memory::data_type type) {
  const int64_t row_stride = transpose == Transpose::No ? batch.ld : 1,
                col_stride = transpose == Transpose::No ? 1 : batch.ld;
  return memory::desc({samples, heads, rows, cols}, type,
                      {batch.sample_stride, batch.head_stride, row_stride, col_stride});
}

void execute(const Matmul& matmul, const bf16* a, const bf16* b, float* c) {
  // oneDNN takes void*; A and B are only read.
  memory a_memory(matmul.pd.src_desc(), dnnl_engine(), const_cast<bf16*>(a));
  memory b_memory(matmul.pd.weights_desc(), dnnl_engine(), const_cast<bf16*>(b));
  memory c_memory(matmul.pd.dst_desc(), dnnl_engine(), c);
  matmul.primitive.execute(dnnl_stream(),
                           {{DNNL_ARG_SRC, a_memory}, {DNNL_ARG_WEIGHTS, b_memory}, {DNNL_ARG_DST, c_memory}});
  dnnl_stream().wait();
}

// Every matrix of c (`samples` x `heads` of them, m x n) times alpha.
void scale(MatrixBatch<float> c, int64_t samples, int64_t heads, int64_t m, int64_t n, float alpha) {
  const int64_t rows = samples * heads * m;
#pragma omp parallel for schedule(static) if (worth_threads(rows * n))
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t matrix = row / m;
    float* values = c.at(matrix / heads, matrix % heads) + (row % m) * c.ld;
#pragma omp simd
    for (int64_t col = 0; col < n; ++col) values[col] *= alpha;
  }
}

}  // namespace

void gemm(Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const bf16* a,
          int64_t lda, const bf16* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  DIFFUSE_CHECK(beta == 0.0f || beta == 1.0f, "gemm: bf16 products take beta 0 or 1, not ", beta);
  if (m == 0 || n == 0) return;
  if (k == 0) {  // no products: C = beta * C, as the fp32 gemm does
    if (beta == 0.0f)
      for (int64_t row = 0; row < m; ++row) std::fill(c + row * ldc, c + row * ldc + n, 0.0f);
    return;
  }
  thread_local std::map<MatmulKey, Matmul> matmuls;
  const bool accumulate = beta == 1.0f;
  const MatmulKey key{{static_cast<int64_t>(transpose_a), static_cast<int64_t>(transpose_b), m, n, k, lda, ldb, ldc,
                       accumulate ? 1 : 0},
                      alpha};
  auto found = matmuls.find(key);
  if (found == matmuls.end())
    found =
        matmuls.emplace(key, make_matmul(transpose_a, transpose_b, m, n, k, alpha, lda, ldb, ldc, accumulate)).first;
  execute(found->second, a, b, c);
}

void batched_gemm(Transpose transpose_a, Transpose transpose_b, int64_t samples, int64_t heads, int64_t m, int64_t n,
                  int64_t k, float alpha, MatrixBatch<const bf16> a, MatrixBatch<const bf16> b, MatrixBatch<float> c) {
  if (samples == 0 || heads == 0 || m == 0 || n == 0) return;
  if (k == 0) {  // no products: C = 0, as the fp32 batched_gemm leaves it
    for (int64_t sample = 0; sample < samples; ++sample)
      for (int64_t head = 0; head < heads; ++head)
        for (int64_t row = 0; row < m; ++row) std::fill_n(c.at(sample, head) + row * c.ld, n, 0.0f);
    return;
  }
  thread_local std::map<BatchedMatmulKey, Matmul> matmuls;
  const BatchedMatmulKey key{{static_cast<int64_t>(transpose_a), static_cast<int64_t>(transpose_b), samples, heads, m,
                              n, k, a.sample_stride, a.head_stride, a.ld, b.sample_stride, b.head_stride, b.ld,
                              c.sample_stride, c.head_stride, c.ld}};
  auto found = matmuls.find(key);
  if (found == matmuls.end()) {
    const memory::data_type bf16_type = memory::data_type::bf16, f32 = memory::data_type::f32;
    const dnnl::matmul::desc desc(matrices(samples, heads, m, k, a, transpose_a, bf16_type),
                                  matrices(samples, heads, k, n, b, transpose_b, bf16_type),
                                  matrices(samples, heads, m, n, c, Transpose::No, f32));
    const dnnl::matmul::primitive_desc pd(desc, dnnl_engine());
    found = matmuls.emplace(key, Matmul{pd, dnnl::matmul(pd)}).first;
  }
  execute(found->second, a.data, b.data, c.data);
  // oneDNN 2.6 runs a strided batch several times slower with output scales than without, so alpha comes after.
  if (alpha != 1.0f) scale(c, samples, heads, m, n, alpha);
}

const bf16* rounded_bf16(const float* values, int64_t count, ScratchBuffer& buffer) {
  bf16* copy = reinterpret_cast<bf16*>(buffer.get(static_cast<size_t>(count + 1) / 2));
#pragma omp parallel for schedule(static) if (worth_threads(count))
  for (int64_t i = 0; i < count; ++i) copy[i] = float_to_bf16(values[i]);
  return copy;
}

}  // namespace diffuse::cpu
