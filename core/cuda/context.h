// The per-GPU state the CUDA backend runs on: one stream that every op, copy
// and stream-ordered allocation uses (so ops are ordered among themselves
// without host synchronisation), the cuDNN and cuBLAS handles bound to it,
// the cuDNN workspace, and a device word in which kernels report bad inputs
// (out-of-range labels) for the next synchronisation to throw. One context per
// device, created on first use and kept until the process exits. Includes the
// CUDA headers: for CUDA-side code only.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <array>
#include <cstddef>
#include <mutex>

#include "core/cuda/kernel_fault.h"

namespace diffuse::cuda {

class DeviceContext {
 public:
  explicit DeviceContext(int device);
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  bool has_memory_pool() const { return has_memory_pool_; }

  // Created on first use: cuDNN loads its sub-libraries then, which takes a while.
  cudnnHandle_t cudnn();
  cublasHandle_t cublas();

  // cuDNN scratch of at least `bytes`, grown (stream-ordered) and never shrunk.
  void* workspace(size_t bytes);

  // Queues a copy of `bytes` from host memory to `destination` on the stream;
  // `source` may be reused as soon as this returns. Copies up to 8 MiB go
  // through pinned staging buffers: from pageable memory the driver may first
  // wait for the stream, which would stall the host once per batch. Larger
  // ones are copied directly, which returns once the source has been read
  // because host tensors are pageable (a pinned source would not be).
  // Each of the ring's slots grows to the largest copy it carries: at most
  // 16 x 8 MiB of pinned memory.
  void upload(void* destination, const void* source, size_t bytes);

  KernelFault* faults() const { return faults_; }
  // Waits for the stream and throws the first fault kernels recorded since the last check (or, before that, one
  // deferred from a destructor: core/error.h).
  void check_faults();

 private:
  int device_;
  bool has_memory_pool_ = false;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  void* cublas_workspace_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  KernelFault* faults_ = nullptr;
  std::mutex mutex_;

  // A ring of pinned buffers; each is reused once the copy queued from it has run.
  struct StagingSlot {
    void* host = nullptr;
    size_t capacity = 0;
    cudaEvent_t copied = nullptr;
  };
  static constexpr size_t kStagingSlots = 16;
  std::array<StagingSlot, kStagingSlots> staging_{};
  size_t next_slot_ = 0;
  std::mutex staging_mutex_;
};

// The context of the calling thread's current device.
DeviceContext& context();
// Shorthand for context().stream(): where every kernel is launched.
cudaStream_t stream();

}  // namespace diffuse::cuda
