// The CUDA runtime as the rest of diffuse sees it: plain C++, no CUDA
// headers, so CPU code can ask for GPUs without being compiled by nvcc.
// Only compiled when DIFFUSE_HAS_CUDA; everything here is safe to call on a
// machine without a driver or a GPU (it reports zero devices).
#pragma once

#include <cstddef>
#include <string>

#include "core/allocator.h"

namespace diffuse::cuda {

// Number of usable GPUs; 0 when no driver is installed or none is visible.
int device_count();
// Why device_count() is 0 ("no CUDA driver", ...), or "" when GPUs exist.
std::string unavailable_reason();
// Library versions this binary runs with: CUDA runtime, driver, cuDNN, cuBLAS, NCCL.
std::string library_versions();

void set_device(int device);
// Allocator of the current device (throws when there is no GPU).
Allocator& device_allocator();

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
void copy_bytes(void* destination, const void* source, size_t bytes, CopyKind kind);
void synchronize();

}  // namespace diffuse::cuda
