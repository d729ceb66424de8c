// CUDA runtime glue: device discovery that tolerates a missing driver,
// the device allocator, copies and the versions of the linked libraries.

#include "core/checks_cuda.h"
#include "core/cuda/runtime.h"

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
      found.reason = concat("CUDA unavailable: ", cudaGetErrorString(status));
      cudaGetLastError();  // clear the sticky error so later calls start clean
    } else if (found.count == 0) {
      found.reason = "no GPU visible";
    }
    return found;
  }();
  return result;
}

class CudaAllocator final : public Allocator {
 protected:
  void* raw_allocate(size_t bytes) override {
    void* pointer = nullptr;
    CUDA_CHECK(cudaMalloc(&pointer, bytes == 0 ? 256 : bytes));
    return pointer;
  }
  void raw_deallocate(void* pointer) override { CUDA_CHECK(cudaFree(pointer)); }
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
  const size_t cudnn = cudnnGetVersion();
  return concat("CUDA runtime ", version_text(runtime, 1000, 10), ", driver ",
                driver ? version_text(driver, 1000, 10) : std::string("none"), ", cuDNN ", cudnn / 10000, ".",
                (cudnn % 10000) / 100, ".", cudnn % 100, ", cuBLAS ", cublas_major, ".", cublas_minor, ", NCCL ",
                nccl / 10000, ".", (nccl % 10000) / 100, ".", nccl % 100);
}

void set_device(int device) {
  DIFFUSE_CHECK(device >= 0 && device < device_count(), "GPU ", device, " requested but ", device_count(),
                " visible", device_count() ? "" : concat(" (", unavailable_reason(), ")"));
  CUDA_CHECK(cudaSetDevice(device));
}

Allocator& device_allocator() {
  DIFFUSE_CHECK(device_count() > 0, "a CUDA tensor was requested but ", unavailable_reason());
  static CudaAllocator allocator;
  return allocator;
}

void copy_bytes(void* destination, const void* source, size_t bytes, CopyKind kind) {
  if (bytes == 0) return;
  const cudaMemcpyKind direction = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                                   : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                                    : cudaMemcpyDeviceToDevice;
  CUDA_CHECK(cudaMemcpy(destination, source, bytes, direction));
}

void synchronize() { CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace diffuse::cuda
