// Which backend a command computes on: runtime.device in a config (train,
// distill) or the bench's --device. "cpu", "cuda", or "auto": the GPU when this
// build has the CUDA backend and the machine a usable GPU, else the CPU.
#pragma once

#include <string>

#include "core/tensor.h"

namespace diffuse {

struct DeviceChoice {
  Device device = Device::CPU;
  std::string description;  // for the log: "the CPU", "GPU NVIDIA H200", "the CPU (auto: no usable GPU: ...)"
};

// The device `name` asks for on this machine, touching no GPU (it opens no CUDA context): what picks the
// communicator before the ranks know their GPUs. `setting` names where `name` came from, for the error when it
// cannot be honoured ("runtime.device").
Device resolve_device(const std::string& name, const std::string& setting);

// resolve_device, and with the GPU, makes GPU local_rank of this node (modulo the GPUs there) the calling
// rank's current device.
DeviceChoice choose_device(const std::string& name, const std::string& setting, int local_rank = 0);

}  // namespace diffuse
