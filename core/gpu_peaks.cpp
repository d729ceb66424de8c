#include "core/gpu_peaks.h"

namespace diffuse {

namespace {

bool has(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

}  // namespace

std::optional<GpuPeak> gpu_peak(const std::string& device_name) {
  const std::string& name = device_name;
  // Checked in this order: a name that says NVL or PCIe is that variant; an H100 or H200 that says neither is the
  // SXM module ("NVIDIA H100 80GB HBM3", "NVIDIA H200").
  if (has(name, "H100") && has(name, "NVL")) return GpuPeak{"H100 NVL", 835.0};
  if (has(name, "H100") && has(name, "PCIe")) return GpuPeak{"H100 PCIe", 756.0};
  if (has(name, "H100")) return GpuPeak{"H100 SXM", 989.0};
  if (has(name, "H200") && has(name, "NVL")) return GpuPeak{"H200 NVL", 835.0};
  if (has(name, "H200")) return GpuPeak{"H200 SXM", 989.0};
  if (has(name, "A100")) return GpuPeak{"A100", 312.0};  // SXM and PCIe share the tensor-core peak
  if (has(name, "L40S")) return GpuPeak{"L40S", 362.0};
  return std::nullopt;
}

}  // namespace diffuse
