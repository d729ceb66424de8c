// CUDA runtime glue: device discovery that tolerates a missing driver,
// the stream-ordered device allocator, copies, and the versions of the linked
// libraries.

#include "core/checks_cuda.h"
#include "core/cuda/context.h"
#include "core/cuda/runtime.h"
#include "core/library_versions.h"
#include "core/memory_retry.h"

namespace diffuse::cuda {

namespace {

struct Discovery {
  int count = 0;
  std::string reason;
};

// cudaGetDeviceCount fails cleanly (no crash) without a driver; remember why.
const Discovery& discovery() {
  static const Discovery result = [] {
    Discovery found;
    const cudaError_t status = cudaGetDeviceCount(&found.count);
    if (status != cudaSuccess) {
      found.count = 0;
      found.reason = concat("CUDA unavailable: ", cudaGetErrorString(status),
                            "; check that the NVIDIA driver is installed and nvidia-smi lists a GPU");
      cudaGetLastError();  // clear the sticky error so later calls start clean
    } else if (found.count == 0) {
      found.reason = "no GPU visible; check nvidia-smi and CUDA_VISIBLE_DEVICES";
    }
    return found;
  }();
  return result;
}

// Allocations and frees are queued on the compute stream (cudaMallocAsync), so
// freeing a tensor never waits for the GPU and the pool recycles memory across
// steps. Devices without memory pools fall back to cudaMalloc / cudaFree.
class CudaAllocator final : public Allocator {
 public:
  void release_cached() override {
    DeviceContext& device = context();
    if (!device.has_memory_pool()) return;  // cudaFree gives memory straight back: nothing is cached
    // Blocks freed on the stream stay the pool's until the host has seen that work complete.
    CUDA_CHECK(cudaStreamSynchronize(device.stream()));
    cudaMemPool_t pool = nullptr;
    CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device.device()));
    CUDA_CHECK(cudaMemPoolTrimTo(pool, 0));
  }

 protected:
  // Running out of memory throws OutOfMemoryError, which a caller may cure by release_cached (core/memory_retry.h).
  void* raw_allocate(size_t bytes) override {
    void* pointer = nullptr;
    const size_t rounded = bytes == 0 ? 256 : bytes;
    DeviceContext& device = context();
    const cudaError_t status =
        device.has_memory_pool() ? cudaMallocAsync(&pointer, rounded, device.stream()) : cudaMalloc(&pointer, rounded);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // not sticky, but recorded: clear it so that the next launch check does not report it
      throw OutOfMemoryError(concat(process_rank() >= 0 ? concat("[rank ", process_rank(), "] ") : std::string(),
                                    "CUDA error: out of memory allocating ", rounded, " bytes of device memory"));
    }
    CUDA_CHECK(status);
    return pointer;
  }
  // Called from Tensor deleters, through Allocator::deallocate, which defers what this throws.
  void raw_deallocate(void* pointer, size_t /*bytes*/) override {
    int current = 0;
    if (cudaGetDevice(&current) == cudaErrorCudartUnloading) return;  // a static tensor outlived the runtime
    DeviceContext& device = context();
    if (device.has_memory_pool()) {
      DIFFUSE_CHECK_CALL("CUDA", cudaFreeAsync(pointer, device.stream()), freed, checks::cuda_describe);
    } else {
      DIFFUSE_CHECK_CALL("CUDA", cudaFree(pointer), freed, checks::cuda_describe);
    }
  }

 private:
  static bool freed(cudaError_t status) { return status == cudaSuccess || status == cudaErrorCudartUnloading; }
};

std::string version_text(int encoded, int major_divisor, int minor_divisor) {
  return concat(encoded / major_divisor, ".", (encoded % major_divisor) / minor_divisor);
}

}  // namespace

int device_count() { return discovery().count; }

std::string unavailable_reason() { return discovery().reason; }

std::string library_versions() {
  int runtime = 0, driver = 0, nccl = 0, cublas_major = 0, cublas_minor = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  ncclGetVersion(&nccl);
  cublasGetProperty(MAJOR_VERSION, &cublas_major);
  cublasGetProperty(MINOR_VERSION, &cublas_minor);
  return concat("CUDA runtime ", version_text(runtime, 1000, 10), ", driver ",
                driver ? version_text(driver, 1000, 10) : std::string("none"), ", cuDNN ",
                diffuse::version_text(static_cast<long>(cudnnGetVersion())), ", cuBLAS ", cublas_major, ".",
                cublas_minor, ", NCCL ", diffuse::version_text(nccl_version(nccl)));
}

std::string library_version_problem() {
  int nccl = 0;
  NCCL_CHECK(ncclGetVersion(&nccl));
  std::string problem = diffuse::library_version_problem(
      {"cuDNN", kCudnnFloor, "the cuDNN 9 convolution API", CUDNN_VERSION, static_cast<long>(cudnnGetVersion())});
  const std::string nccl_problem =
      diffuse::library_version_problem({"NCCL", kNcclFloor, "ncclCommInitRankConfig and ncclCommFinalize",
                                        nccl_version(NCCL_VERSION_CODE), nccl_version(nccl)});
  if (!problem.empty() && !nccl_problem.empty()) problem += "; ";
  return problem + nccl_problem;
}

void set_device(int device) {
  DIFFUSE_CHECK(device >= 0 && device < device_count(), "GPU ", device, " requested but ", device_count(), " visible",
                device_count() ? "" : concat(" (", unavailable_reason(), ")"));
  CUDA_CHECK(cudaSetDevice(device));
}

std::string device_name() {
  DIFFUSE_CHECK(device_count() > 0, "no GPU: ", unavailable_reason());
  cudaDeviceProp properties{};
  CUDA_CHECK(cudaGetDeviceProperties(&properties, context().device()));
  return properties.name;
}

Allocator& device_allocator() {
  DIFFUSE_CHECK(device_count() > 0, "a CUDA tensor was requested but ", unavailable_reason());
  static CudaAllocator allocator;
  return allocator;
}

int64_t reserved_peak_bytes() {
  if (device_count() == 0) return 0;
  if (!context().has_memory_pool()) return device_allocator().peak_bytes();
  cudaMemPool_t pool = nullptr;
  CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, context().device()));
  uint64_t high = 0;
  CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemHigh, &high));
  return static_cast<int64_t>(high);
}

void copy_bytes(void* destination, const void* source, size_t bytes, CopyKind kind) {
  if (bytes == 0) return;
  DeviceContext& device = context();
  if (kind == CopyKind::HostToDevice) {
    device.upload(destination, source, bytes);  // returns once the source has been taken
    return;
  }
  const cudaMemcpyKind direction = kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
  CUDA_CHECK(cudaMemcpyAsync(destination, source, bytes, direction, device.stream()));
  if (kind == CopyKind::DeviceToHost) device.check_faults();  // waits for the stream
}

void synchronize() {
  throw_deferred_fault();
  CUDA_CHECK(cudaDeviceSynchronize());
  context().check_faults();
}

}  // namespace diffuse::cuda
