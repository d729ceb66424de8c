// cuBLAS GEMM wrapper: core/gemm_mapping.h turns the row-major product into the
// column-major one cuBLAS computes, core/cuda/library_types.h the types; this
// file only makes that call, through cublasGemmStridedBatchedEx.
#include "core/cuda/gemm.h"

#include "core/checks_cuda.h"
#include "core/cuda/context.h"
#include "core/cuda/library_types.h"

namespace diffuse::cuda {

namespace {

cublasOperation_t to_cublas(blas::Op op) { return op == blas::Op::T ? CUBLAS_OP_T : CUBLAS_OP_N; }

}  // namespace

void gemm(DType operands, Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const Matrix& a, const Matrix& b, float beta, float* c, int64_t ldc, int64_t c_batch_stride, int64_t batch) {
  blas::RowMajorGemm row_major;
  row_major.transpose_a = transpose_a;
  row_major.transpose_b = transpose_b;
  row_major.m = m;
  row_major.n = n;
  row_major.k = k;
  row_major.alpha = alpha;
  row_major.beta = beta;
  row_major.lda = a.ld;
  row_major.ldb = b.ld;
  row_major.ldc = ldc;
  row_major.a_batch_stride = a.batch_stride;
  row_major.b_batch_stride = b.batch_stride;
  row_major.c_batch_stride = c_batch_stride;
  row_major.batch = batch;
  const blas::ColumnMajorGemm call = blas::to_column_major(row_major);
  if (call.work == blas::Work::Nothing) return;
  DeviceContext& device = context();
  if (call.work == blas::Work::ClearC) {
    // Each column-major m x n matrix of C: n columns of m contiguous floats, ldc apart.
    for (int i = 0; i < call.batch; ++i)
      CUDA_CHECK(cudaMemset2DAsync(c + i * call.stride_c, static_cast<size_t>(call.ldc) * sizeof(float), 0,
                                   static_cast<size_t>(call.m) * sizeof(float), static_cast<size_t>(call.n),
                                   device.stream()));
    return;
  }
  const GemmTypes types = gemm_types(operands);
  const void* blas_a = call.a_from == blas::Operand::A ? a.data : b.data;
  const void* blas_b = call.b_from == blas::Operand::A ? a.data : b.data;
  record_call(call_types(types));
  CUBLAS_CHECK(cublasGemmStridedBatchedEx(device.cublas(), to_cublas(call.op_a), to_cublas(call.op_b), call.m, call.n,
                                          call.k, &call.alpha, blas_a, types.operands, call.lda, call.stride_a, blas_b,
                                          types.operands, call.ldb, call.stride_b, &call.beta, c, types.output,
                                          call.ldc, call.stride_c, call.batch, types.compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace diffuse::cuda
