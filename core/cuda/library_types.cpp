#include "core/cuda/library_types.h"

#include <mutex>
#include <tuple>

#include "core/error.h"

namespace diffuse::cuda {

namespace {

std::mutex record_mutex;
std::map<CallTypes, int64_t>& record() {
  static std::map<CallTypes, int64_t> calls;
  return calls;
}

}  // namespace

ConvTypes conv_types(DType operands) {
  switch (operands) {
    case DType::F32:
      return {CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT};
    case DType::BF16:
      return {CUDNN_DATA_BFLOAT16, CUDNN_DATA_FLOAT};
    case DType::F16:
      return {CUDNN_DATA_HALF, CUDNN_DATA_FLOAT};
    default:
      DIFFUSE_CHECK(false, "conv2d: operands must be f32, bf16 or f16, not ", dtype_name(operands));
      return {};
  }
}

// CUBLAS_COMPUTE_32F for every operand type: exact fp32 arithmetic for fp32 (not CUBLAS_COMPUTE_32F_FAST_TF32),
// fp32 accumulation on tensor cores for bf16/fp16.
GemmTypes gemm_types(DType operands) {
  switch (operands) {
    case DType::F32:
      return {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F};
    case DType::BF16:
      return {CUDA_R_16BF, CUDA_R_32F, CUBLAS_COMPUTE_32F};
    case DType::F16:
      return {CUDA_R_16F, CUDA_R_32F, CUBLAS_COMPUTE_32F};
    default:
      DIFFUSE_CHECK(false, "gemm: operands must be f32, bf16 or f16, not ", dtype_name(operands));
      return {};
  }
}

const char* library_call_name(LibraryCall call) {
  switch (call) {
    case LibraryCall::ConvForward:
      return "conv2d forward";
    case LibraryCall::ConvBackwardData:
      return "conv2d backward data";
    case LibraryCall::ConvBackwardFilter:
      return "conv2d backward filter";
    case LibraryCall::Gemm:
      return "gemm";
  }
  return "?";
}

bool CallTypes::operator<(const CallTypes& other) const {
  return std::tie(call, data, compute) < std::tie(other.call, other.data, other.compute);
}

bool CallTypes::operator==(const CallTypes& other) const {
  return call == other.call && data == other.data && compute == other.compute;
}

CallTypes call_types(LibraryCall convolution, const ConvTypes& types) {
  DIFFUSE_CHECK(convolution != LibraryCall::Gemm, "call_types: a GEMM has GemmTypes");
  return {convolution, static_cast<int>(types.data), static_cast<int>(types.compute)};
}

CallTypes call_types(const GemmTypes& types) {
  return {LibraryCall::Gemm, static_cast<int>(types.operands), static_cast<int>(types.compute)};
}

void record_call(const CallTypes& types) {
  const std::lock_guard<std::mutex> lock(record_mutex);
  ++record()[types];
}

std::map<CallTypes, int64_t> recorded_calls() {
  const std::lock_guard<std::mutex> lock(record_mutex);
  return record();
}

void reset_recorded_calls() {
  const std::lock_guard<std::mutex> lock(record_mutex);
  record().clear();
}

}  // namespace diffuse::cuda
