// cuBLAS GEMM wrapper: row-major products expressed as the column-major ones
// cuBLAS computes (C^T = op(B)^T op(A)^T), through cublasGemmStridedBatchedEx.
#include "core/cuda/gemm.h"

#include <climits>

#include "core/checks_cuda.h"
#include "core/cuda/context.h"

namespace diffuse::cuda {

namespace {

cudaDataType_t cuda_type(DType dtype) {
  switch (dtype) {
    case DType::BF16:
      return CUDA_R_16BF;
    case DType::F16:
      return CUDA_R_16F;
    case DType::F32:
      return CUDA_R_32F;
    default:
      DIFFUSE_CHECK(false, "gemm: operands must be f32, bf16 or f16, not ", dtype_name(dtype));
      return CUDA_R_32F;
  }
}

int to_int(int64_t value, const char* what) {
  DIFFUSE_CHECK(value >= 0 && value <= INT_MAX, "gemm: ", what, " = ", value, " does not fit cuBLAS's int");
  return static_cast<int>(value);
}

cublasOperation_t to_cublas(Transpose transpose) { return transpose == Transpose::Yes ? CUBLAS_OP_T : CUBLAS_OP_N; }

}  // namespace

void gemm(DType operands, Transpose transpose_a, Transpose transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
          const Matrix& a, const Matrix& b, float beta, float* c, int64_t ldc, int64_t c_batch_stride, int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  DeviceContext& device = context();
  if (k == 0) {
    // No products: C = beta * C, and only beta 0 (clear) and 1 (keep) occur in diffuse.
    DIFFUSE_CHECK(beta == 0.0f || beta == 1.0f, "gemm: k = 0 with beta ", beta, " is not supported");
    if (beta == 0.0f)
      for (int64_t i = 0; i < batch; ++i)
        CUDA_CHECK(cudaMemset2DAsync(c + i * c_batch_stride, static_cast<size_t>(ldc) * sizeof(float), 0,
                                     static_cast<size_t>(n) * sizeof(float), static_cast<size_t>(m), device.stream()));
    return;
  }
  const cudaDataType_t type = cuda_type(operands);
  // Row-major C [m,n] is column-major C^T [n,m] = op(B)^T [n,k] op(A)^T [k,m].
  CUBLAS_CHECK(cublasGemmStridedBatchedEx(device.cublas(), to_cublas(transpose_b), to_cublas(transpose_a),
                                          to_int(n, "n"), to_int(m, "m"), to_int(k, "k"), &alpha, b.data, type,
                                          to_int(b.ld, "ldb"), b.batch_stride, a.data, type, to_int(a.ld, "lda"),
                                          a.batch_stride, &beta, c, CUDA_R_32F, to_int(ldc, "ldc"), c_batch_stride,
                                          to_int(batch, "batch"), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace diffuse::cuda
