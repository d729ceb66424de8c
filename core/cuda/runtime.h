// The CUDA runtime as the rest of diffuse sees it: plain C++, no CUDA
// headers, so CPU code can ask for GPUs without being compiled by nvcc.
// Only compiled when DIFFUSE_HAS_CUDA; everything here is safe to call on a
// machine without a driver or a GPU (it reports zero devices).
//
// Device memory and copies are ordered on the current device's compute stream
// (core/cuda/context.h), which every CUDA op runs on: a tensor freed there is
// reused only by later work on that stream. Work on any other stream (an NCCL
// stream, say) must be ordered against it with events before its tensors are
// released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/allocator.h"

namespace diffuse::cuda {

// Number of usable GPUs; 0 when no driver is installed or none is visible.
int device_count();
// Why device_count() is 0 ("no CUDA driver", ...), or "" when GPUs exist.
std::string unavailable_reason();
// Library versions this binary runs with: CUDA runtime, driver, cuDNN, cuBLAS, NCCL.
std::string library_versions();
// "" when the loaded cuDNN and NCCL qualify (core/library_versions.h: the major built against, at least the
// floor); otherwise a message naming both versions.
std::string library_version_problem();

void set_device(int device);
// Name of the current GPU ("NVIDIA H200"); throws when there is none.
std::string device_name();
// Allocator of the current device (throws when there is no GPU).
Allocator& device_allocator();
// Most device memory the process's memory pool has held (>= the tensors' peak).
int64_t reserved_peak_bytes();

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
// Ordered on the compute stream; returns once the source may be reused and,
// for DeviceToHost, once the destination holds the data. Throws faults that
// kernels recorded (bad labels) when it waits.
void copy_bytes(void* destination, const void* source, size_t bytes, CopyKind kind);
// Waits for all work on the device; throws recorded kernel faults and faults deferred from destructors.
void synchronize();

}  // namespace diffuse::cuda
