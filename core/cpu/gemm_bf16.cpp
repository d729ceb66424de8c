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
  const Matmul& matmul = found->second;
  // oneDNN takes void*; A and B are only read.
  memory a_memory(matmul.pd.src_desc(), dnnl_engine(), const_cast<bf16*>(a));
  memory b_memory(matmul.pd.weights_desc(), dnnl_engine(), const_cast<bf16*>(b));
  memory c_memory(matmul.pd.dst_desc(), dnnl_engine(), c);
  matmul.primitive.execute(dnnl_stream(),
                           {{DNNL_ARG_SRC, a_memory}, {DNNL_ARG_WEIGHTS, b_memory}, {DNNL_ARG_DST, c_memory}});
  dnnl_stream().wait();
}

const bf16* rounded_bf16(const float* values, int64_t count, ScratchBuffer& buffer) {
  bf16* copy = reinterpret_cast<bf16*>(buffer.get(static_cast<size_t>(count + 1) / 2));
#pragma omp parallel for schedule(static) if (worth_threads(count))
  for (int64_t i = 0; i < count; ++i) copy[i] = float_to_bf16(values[i]);
  return copy;
}

}  // namespace diffuse::cpu
