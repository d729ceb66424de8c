#include "core/gemm_mapping.h"

#include <climits>

#include "core/error.h"

namespace diffuse::blas {

namespace {

int checked_int(int64_t value, const char* name) {
  DIFFUSE_CHECK(value >= 0, "gemm: ", name, " = ", value, " is negative");
  DIFFUSE_CHECK(value <= INT_MAX, "gemm: ", name, " = ", value, " does not fit cuBLAS's int");
  return static_cast<int>(value);
}

// A stored row-major matrix has `row_length` elements per row; its leading dimension must span them.
int checked_ld(int64_t ld, const char* name, int64_t row_length, const char* row_length_name) {
  const int checked = checked_int(ld, name);
  DIFFUSE_CHECK(ld >= row_length, "gemm: ", name, " = ", ld, " is less than ", row_length_name, " = ", row_length,
                ", the row length of the matrix as stored");
  return checked;
}

int64_t checked_stride(int64_t stride, const char* name) {
  DIFFUSE_CHECK(stride >= 0, "gemm: ", name, " = ", stride, " is negative");
  return stride;
}

Op blas_op(Transpose transpose) { return transpose == Transpose::Yes ? Op::T : Op::N; }

}  // namespace

ColumnMajorGemm to_column_major(const RowMajorGemm& gemm) {
  ColumnMajorGemm call;
  // Row-major C [m,n] is column-major C^T [n,m] = op(B)^T [n,k] op(A)^T [k,m].
  call.m = checked_int(gemm.n, "n");
  call.n = checked_int(gemm.m, "m");
  call.k = checked_int(gemm.k, "k");
  call.batch = checked_int(gemm.batch, "batch");
  const bool a_transposed = gemm.transpose_a == Transpose::Yes, b_transposed = gemm.transpose_b == Transpose::Yes;
  call.a_from = Operand::B;
  call.op_a = blas_op(gemm.transpose_b);
  call.lda = checked_ld(gemm.ldb, "ldb", b_transposed ? gemm.k : gemm.n, b_transposed ? "k" : "n");
  call.stride_a = checked_stride(gemm.b_batch_stride, "b_batch_stride");
  call.b_from = Operand::A;
  call.op_b = blas_op(gemm.transpose_a);
  call.ldb = checked_ld(gemm.lda, "lda", a_transposed ? gemm.m : gemm.k, a_transposed ? "m" : "k");
  call.stride_b = checked_stride(gemm.a_batch_stride, "a_batch_stride");
  call.ldc = checked_ld(gemm.ldc, "ldc", gemm.n, "n");
  call.stride_c = checked_stride(gemm.c_batch_stride, "c_batch_stride");
  call.alpha = gemm.alpha;
  call.beta = gemm.beta;

  if (gemm.m == 0 || gemm.n == 0 || gemm.batch == 0) return call;  // Work::Nothing
  DIFFUSE_CHECK(gemm.batch == 1 || gemm.c_batch_stride != 0, "gemm: c_batch_stride = 0 with batch = ", gemm.batch,
                " would write every product into the same C");
  if (gemm.k == 0) {
    DIFFUSE_CHECK(gemm.beta == 0.0f || gemm.beta == 1.0f, "gemm: k = 0 with beta ", gemm.beta, " is not supported");
    call.work = gemm.beta == 0.0f ? Work::ClearC : Work::Nothing;
    return call;
  }
  call.work = Work::Gemm;
  return call;
}

}  // namespace diffuse::blas
