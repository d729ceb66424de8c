#include "run/device_choice.h"

#include "core/error.h"
#include "distributed/gpu_for_rank.h"

#if DIFFUSE_HAS_CUDA
#include "core/cuda/runtime.h"
#endif

namespace diffuse {

namespace {

// Why there is no GPU to compute on.
std::string missing_gpu() {
#if DIFFUSE_HAS_CUDA
  return "no usable GPU (" + cuda::unavailable_reason() + ")";
#else
  return "this binary was built without CUDA (configure with -DDIFFUSE_CUDA=ON on a machine with the CUDA toolkit)";
#endif
}

bool gpu_available() {
#if DIFFUSE_HAS_CUDA
  return cuda::device_count() > 0;
#else
  return false;
#endif
}

}  // namespace

Device resolve_device(DeviceRequest request, const std::string& setting) {
  if (request == DeviceRequest::kCpu) return Device::CPU;
  if (gpu_available()) return Device::CUDA;
  DIFFUSE_CHECK(request == DeviceRequest::kAuto, setting, " cuda: ", missing_gpu());
  return Device::CPU;
}

DeviceChoice use_device(Device device, DeviceRequest request, const std::string& setting, int local_rank,
                        int local_size) {
#if DIFFUSE_HAS_CUDA
  if (device == Device::CUDA) {
    cuda::set_device(gpu_for_rank(cuda::device_count(), local_rank, local_size));
    return {Device::CUDA, "GPU " + cuda::device_name()};
  }
#else
  (void)device;
  (void)local_rank;
  (void)local_size;
#endif
  return {Device::CPU,
          request == DeviceRequest::kAuto ? "the CPU (" + setting + " auto: " + missing_gpu() + ")" : "the CPU"};
}

DeviceChoice choose_device(DeviceRequest request, const std::string& setting) {
  return use_device(resolve_device(request, setting), request, setting, /*local_rank=*/0, /*local_size=*/1);
}

}  // namespace diffuse
