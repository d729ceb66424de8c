#include "trainer/device_choice.h"

#include "core/error.h"

#if DIFFUSE_HAS_CUDA
#include "core/cuda/runtime.h"
#endif

namespace diffuse {

DeviceChoice choose_device(const std::string& name, const std::string& setting) {
  DIFFUSE_CHECK(name == "cpu" || name == "cuda" || name == "auto", setting, " must be cpu, cuda or auto, not '", name,
                "'");
  if (name == "cpu") return {Device::CPU, "the CPU"};
#if DIFFUSE_HAS_CUDA
  if (cuda::device_count() > 0) return {Device::CUDA, "GPU " + cuda::device_name()};
  const std::string missing = "no usable GPU (" + cuda::unavailable_reason() + ")";
#else
  const std::string missing =
      "this binary was built without CUDA (configure with -DDIFFUSE_CUDA=ON on a machine with the CUDA toolkit)";
#endif
  DIFFUSE_CHECK(name == "auto", setting, " cuda: ", missing);
  return {Device::CPU, "the CPU (" + setting + " auto: " + missing + ")"};
}

}  // namespace diffuse
