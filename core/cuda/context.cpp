// DeviceContext: stream, library handles, workspace and the kernel fault word
// of one GPU (see context.h).
#include "core/cuda/context.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

#include "core/checks_cuda.h"
#include "core/cuda/runtime.h"

namespace diffuse::cuda {

namespace {

// cuBLAS's recommended workspace on Hopper; given explicitly so that it never
// allocates behind our back and its results do not depend on what it got.
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;
constexpr int kMaxDevices = 64;
// Uploads up to this size are staged (a batch of 128 64x64 RGB images is 6 MiB);
// bigger ones (whole checkpoints) are rare enough to copy directly.
constexpr size_t kMaxStagedBytes = size_t{8} << 20;
constexpr size_t kStagingGranule = size_t{64} << 10;

}  // namespace

DeviceContext::DeviceContext(int device) : device_(device) {
  const std::string problem = library_version_problem();
  DIFFUSE_CHECK(problem.empty(), problem);
  int pools = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device));
  has_memory_pool_ = pools != 0;
  if (has_memory_pool_) {
    // Keep freed memory in the pool: steady-state training then never calls into the driver to allocate.
    cudaMemPool_t pool = nullptr;
    CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
    uint64_t keep_everything = UINT64_MAX;
    CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_everything));
  }
  // A blocking stream: work on the legacy default stream (other libraries' plain cudaMemcpy) stays ordered with it.
  CUDA_CHECK(cudaStreamCreate(&stream_));
  CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&faults_), sizeof(KernelFault)));
  CUDA_CHECK(cudaMemset(faults_, 0, sizeof(KernelFault)));
}

cudnnHandle_t DeviceContext::cudnn() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (cudnn_ == nullptr) {
    CUDNN_CHECK(cudnnCreate(&cudnn_));
    CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  }
  return cudnn_;
}

cublasHandle_t DeviceContext::cublas() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (cublas_ == nullptr) {
    CUBLAS_CHECK(cublasCreate(&cublas_));
    CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    CUDA_CHECK(cudaMalloc(&cublas_workspace_, kCublasWorkspaceBytes));
    CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_, kCublasWorkspaceBytes));
    // Default math: fp32 GEMMs stay exact fp32 (no TF32); bf16/fp16 ones use tensor cores.
    CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  }
  return cublas_;
}

void* DeviceContext::workspace(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (bytes > workspace_bytes_) {
    Allocator& allocator = device_allocator();
    // Stream-ordered: work already queued with the old buffer finishes before it is reused.
    allocator.deallocate(workspace_, workspace_bytes_);
    workspace_ = nullptr;
    workspace_bytes_ = 0;
    workspace_ = allocator.allocate(bytes);
    workspace_bytes_ = bytes;
  }
  return workspace_;
}

void DeviceContext::upload(void* destination, const void* source, size_t bytes) {
  if (bytes > kMaxStagedBytes) {
    CUDA_CHECK(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyHostToDevice, stream_));
    return;
  }
  std::lock_guard<std::mutex> lock(staging_mutex_);
  StagingSlot& slot = staging_[next_slot_];
  next_slot_ = (next_slot_ + 1) % kStagingSlots;
  if (slot.copied == nullptr) {
    CUDA_CHECK(cudaEventCreateWithFlags(&slot.copied, cudaEventDisableTiming));
  } else {
    // Normally long done; otherwise the host is kStagingSlots uploads ahead of the GPU and may wait.
    CUDA_CHECK(cudaEventSynchronize(slot.copied));
  }
  if (slot.capacity < bytes) {
    if (slot.host != nullptr) CUDA_CHECK(cudaFreeHost(slot.host));
    slot.host = nullptr;
    slot.capacity = 0;
    const size_t capacity = (bytes + kStagingGranule - 1) / kStagingGranule * kStagingGranule;
    CUDA_CHECK(cudaMallocHost(&slot.host, capacity));
    slot.capacity = capacity;
  }
  std::memcpy(slot.host, source, bytes);
  CUDA_CHECK(cudaMemcpyAsync(destination, slot.host, bytes, cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaEventRecord(slot.copied, stream_));
}

void DeviceContext::check_faults() {
  throw_deferred_fault();
  KernelFault fault{};
  CUDA_CHECK(cudaMemcpyAsync(&fault, faults_, sizeof(fault), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  if (fault.code == kFaultNone) return;
  CUDA_CHECK(cudaMemsetAsync(faults_, 0, sizeof(KernelFault), stream_));
  throw_kernel_fault(fault);
}

DeviceContext& context() {
  // Never destroyed: tensors freed during static destruction still find their stream.
  static std::array<std::atomic<DeviceContext*>, kMaxDevices> contexts{};
  static std::mutex creation;
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  DIFFUSE_CHECK(device >= 0 && device < kMaxDevices, "GPU ", device, " is beyond the ", kMaxDevices, " supported");
  DeviceContext* found = contexts[static_cast<size_t>(device)].load(std::memory_order_acquire);
  if (found != nullptr) return *found;
  std::lock_guard<std::mutex> lock(creation);
  found = contexts[static_cast<size_t>(device)].load(std::memory_order_acquire);
  if (found == nullptr) {
    found = new DeviceContext(device);
    contexts[static_cast<size_t>(device)].store(found, std::memory_order_release);
  }
  return *found;
}

cudaStream_t stream() { return context().stream(); }

}  // namespace diffuse::cuda
