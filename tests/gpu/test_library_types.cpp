// The types cuDNN convolutions and cuBLAS GEMMs are configured with per operand dtype, and the record of the types
// calls ran with (core/cuda/library_types.h). No GPU needed: these run wherever the CUDA backend is built.
#include <gtest/gtest.h>

#include "core/cuda/library_types.h"
#include "core/error.h"

namespace diffuse::cuda {
namespace {

TEST(LibraryTypes, ConvolutionsTakeTheOperandTypeAndAccumulateInFp32) {
  EXPECT_EQ(conv_types(DType::F32).data, CUDNN_DATA_FLOAT);
  EXPECT_EQ(conv_types(DType::BF16).data, CUDNN_DATA_BFLOAT16);
  EXPECT_EQ(conv_types(DType::F16).data, CUDNN_DATA_HALF);
  for (const DType dtype : {DType::F32, DType::BF16, DType::F16})
    EXPECT_EQ(conv_types(dtype).compute, CUDNN_DATA_FLOAT) << dtype_name(dtype);
  EXPECT_THROW(conv_types(DType::I32), Error);
}

TEST(LibraryTypes, GemmsTakeTheOperandTypeWriteFp32AndComputeInExactFp32) {
  EXPECT_EQ(gemm_types(DType::F32).operands, CUDA_R_32F);
  EXPECT_EQ(gemm_types(DType::BF16).operands, CUDA_R_16BF);
  EXPECT_EQ(gemm_types(DType::F16).operands, CUDA_R_16F);
  for (const DType dtype : {DType::F32, DType::BF16, DType::F16}) {
    EXPECT_EQ(gemm_types(dtype).output, CUDA_R_32F) << dtype_name(dtype);
    EXPECT_EQ(gemm_types(dtype).compute, CUBLAS_COMPUTE_32F) << dtype_name(dtype) << ": not TF32, not fp16 sums";
  }
  EXPECT_THROW(gemm_types(DType::I32), Error);
}

TEST(LibraryTypes, RecordCountsCallsPerConfiguredTypesUntilReset) {
  reset_recorded_calls();
  const CallTypes forward_bf16 = call_types(LibraryCall::ConvForward, conv_types(DType::BF16));
  const CallTypes filter_fp32 = call_types(LibraryCall::ConvBackwardFilter, conv_types(DType::F32));
  const CallTypes gemm_fp16 = call_types(gemm_types(DType::F16));
  record_call(forward_bf16);
  record_call(forward_bf16);
  record_call(filter_fp32);
  record_call(gemm_fp16);

  const std::map<CallTypes, int64_t> calls = recorded_calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls.at(forward_bf16), 2);
  EXPECT_EQ(calls.at(filter_fp32), 1);
  EXPECT_EQ(calls.at(gemm_fp16), 1);
  EXPECT_EQ(forward_bf16.data, CUDNN_DATA_BFLOAT16);
  EXPECT_EQ(filter_fp32.compute, CUDNN_DATA_FLOAT);
  EXPECT_EQ(gemm_fp16.call, LibraryCall::Gemm);
  EXPECT_EQ(gemm_fp16.data, CUDA_R_16F);
  EXPECT_EQ(gemm_fp16.compute, CUBLAS_COMPUTE_32F);
  EXPECT_FALSE(forward_bf16 == call_types(LibraryCall::ConvBackwardData, conv_types(DType::BF16)));

  reset_recorded_calls();
  EXPECT_TRUE(recorded_calls().empty());
}

TEST(LibraryTypes, GemmsAreNotRecordedAsConvolutions) {
  EXPECT_THROW(call_types(LibraryCall::Gemm, conv_types(DType::F32)), Error);
}

}  // namespace
}  // namespace diffuse::cuda
