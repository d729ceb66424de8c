// The types cuDNN convolutions and cuBLAS GEMMs are configured with for an
// operand dtype, and a per-process record of the types each call actually ran
// with. A bf16 or fp16 pass that fell back to fp32 (cuDNN without an algorithm
// for that type and shape, say) would still pass a tolerance check against
// fp32; the record says in which type it multiplied, for tests to check.
// Includes the CUDA headers: for CUDA-side code only.
#pragma once

#include <cublas_v2.h>
#include <cudnn.h>

#include <cstdint>
#include <map>

#include "core/dtype.h"

namespace diffuse::cuda {

// A convolution on `operands` (f32, bf16 or f16): the type of its tensors and filter, and of its accumulation.
struct ConvTypes {
  cudnnDataType_t data;
  cudnnDataType_t compute;
};
ConvTypes conv_types(DType operands);

// A GEMM whose A and B are `operands` (f32, bf16 or f16) and whose C is fp32.
struct GemmTypes {
  cudaDataType_t operands;
  cudaDataType_t output;
  cublasComputeType_t compute;
};
GemmTypes gemm_types(DType operands);

enum class LibraryCall { ConvForward, ConvBackwardData, ConvBackwardFilter, Gemm };
const char* library_call_name(LibraryCall call);  // "conv2d forward", ..., "gemm"

// The types one call was configured with, as the libraries' enum values: for convolutions the cudnnDataType_t of
// the data and of the accumulation, for GEMMs the cudaDataType_t of the operands and the cublasComputeType_t.
struct CallTypes {
  LibraryCall call;
  int data;
  int compute;
  bool operator<(const CallTypes& other) const;
  bool operator==(const CallTypes& other) const;
};
CallTypes call_types(LibraryCall convolution, const ConvTypes& types);
CallTypes call_types(const GemmTypes& types);

// Counts one call under its types; the wrappers call it next to each library call.
void record_call(const CallTypes& types);
// How many calls ran with each set of types since the last reset.
std::map<CallTypes, int64_t> recorded_calls();
void reset_recorded_calls();

}  // namespace diffuse::cuda
