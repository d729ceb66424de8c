// Check macros for the CUDA family of libraries (include only from code that
// is compiled against the CUDA headers). Each expands DIFFUSE_CHECK_CALL.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>

#include "core/error.h"

namespace diffuse::checks {
inline bool cuda_ok(cudaError_t status) { return status == cudaSuccess; }
inline std::string cuda_describe(cudaError_t status) { return cudaGetErrorString(status); }
inline bool cudnn_ok(cudnnStatus_t status) { return status == CUDNN_STATUS_SUCCESS; }
inline std::string cudnn_describe(cudnnStatus_t status) { return cudnnGetErrorString(status); }
inline bool cublas_ok(cublasStatus_t status) { return status == CUBLAS_STATUS_SUCCESS; }
inline std::string cublas_describe(cublasStatus_t status) { return cublasGetStatusString(status); }
inline bool nccl_ok(ncclResult_t status) { return status == ncclSuccess; }
inline std::string nccl_describe(ncclResult_t status) { return ncclGetErrorString(status); }
}  // namespace diffuse::checks

#define CUDA_CHECK(statement) \
  DIFFUSE_CHECK_CALL("CUDA", statement, ::diffuse::checks::cuda_ok, ::diffuse::checks::cuda_describe)
#define CUDNN_CHECK(statement) \
  DIFFUSE_CHECK_CALL("cuDNN", statement, ::diffuse::checks::cudnn_ok, ::diffuse::checks::cudnn_describe)
#define CUBLAS_CHECK(statement) \
  DIFFUSE_CHECK_CALL("cuBLAS", statement, ::diffuse::checks::cublas_ok, ::diffuse::checks::cublas_describe)
#define NCCL_CHECK(statement) \
  DIFFUSE_CHECK_CALL("NCCL", statement, ::diffuse::checks::nccl_ok, ::diffuse::checks::nccl_describe)
// After a kernel launch: reports a bad launch configuration at its launcher.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
