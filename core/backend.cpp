#include "core/backend.h"

#include "core/cpu/cpu_backend.h"

#if DIFFUSE_HAS_CUDA
#include "core/cuda/cuda_backend.h"
#include "core/cuda/runtime.h"
#endif

namespace diffuse {

Backend& backend_for(Device device) {
  if (device == Device::CPU) {
    static cpu::CpuBackend cpu_backend;
    return cpu_backend;
  }
#if DIFFUSE_HAS_CUDA
  DIFFUSE_CHECK(cuda::device_count() > 0, "a CUDA op was requested but this machine has no usable GPU (",
                cuda::unavailable_reason(), "): keep the tensors on the CPU, or run where a GPU is visible");
  static cuda::CudaBackend cuda_backend;
  return cuda_backend;
#else
  DIFFUSE_CHECK(false, "no op backend for device '", device_name(device),
                "' in this build: it was built without CUDA, so tensor ops run on the CPU backend (for GPUs, "
                "configure with -DDIFFUSE_CUDA=ON where the CUDA toolkit is installed)");
  return backend_for(Device::CPU);
#endif
}

}  // namespace diffuse
