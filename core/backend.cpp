#include "core/backend.h"

#include "core/cpu/cpu_backend.h"

namespace diffuse {

Backend& backend_for(Device device) {
  if (device == Device::CPU) {
    static cpu::CpuBackend cpu_backend;
    return cpu_backend;
  }
  DIFFUSE_CHECK(false, "no op backend for device '", device_name(device),
                "' in this build: tensor ops run on the CPU backend");
  return backend_for(Device::CPU);
}

}  // namespace diffuse
