// Which backend a command computes on: runtime.device in a config (train,
// distill, bench) or the --device of sample and eval. "cpu", "cuda", or "auto":
// the GPU when this build has the CUDA backend and the machine a usable GPU,
// else the CPU.
#pragma once

#include <string>

#include "core/enum_names.h"
#include "core/tensor.h"

namespace diffuse {

// What runtime.device or a --device flag asks for.
enum class DeviceRequest { kCpu, kCuda, kAuto };
inline constexpr EnumName<DeviceRequest> kDeviceRequestNames[] = {
    {DeviceRequest::kCpu, "cpu"}, {DeviceRequest::kCuda, "cuda"}, {DeviceRequest::kAuto, "auto"}};

struct DeviceChoice {
  Device device = Device::CPU;
  std::string description;  // for the log: "the CPU", "GPU NVIDIA H200", "the CPU (auto: no usable GPU: ...)"
};

// The device `request` asks for on this machine, touching no GPU (it opens no CUDA context): what picks the
// communicator before the ranks know their GPUs. `setting` names where `request` came from, for the error when it
// cannot be honoured ("runtime.device").
Device resolve_device(DeviceRequest request, const std::string& setting);

// Computes on `device`, what resolve_device gave for `request`: with the GPU, makes the calling rank's GPU (local
// rank `local_rank` of the `local_size` on its node: distributed/gpu_for_rank.h) its current device.
DeviceChoice use_device(Device device, DeviceRequest request, const std::string& setting, int local_rank,
                        int local_size);

// resolve_device, then use_device as the only rank on its node: for a process that makes no communicator first
// (`diffuse sample`); commands with one resolve once through their run session (run/run_session.h).
DeviceChoice choose_device(DeviceRequest request, const std::string& setting);

}  // namespace diffuse
