// The MFU yardstick of `bench train` on a GPU: the dense (no structured sparsity) bf16/fp16 tensor-core peak of
// the card, from NVIDIA's datasheets, found by the name the CUDA runtime reports. The variants of one chip differ
// by clocks and power (an H100 PCIe has 76% of an SXM's peak), so the name's form factor is read too.
#pragma once

#include <optional>
#include <string>

namespace diffuse {

struct GpuPeak {
  std::string model;  // the datasheet entry used, e.g. "H100 SXM"
  double dense_bf16_tflops = 0.0;
};

// The peak of the GPU called `device_name` (e.g. "NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe", "NVIDIA L40S"), or
// nothing for a GPU not in the table.
std::optional<GpuPeak> gpu_peak(const std::string& device_name);

}  // namespace diffuse
