// The clock GPU ops are timed with while op profiling is on (core/op_profile.h): CUDA events recorded on the
// compute stream of the current device (one GPU per process), from a pool that grows to the most marks made
// between two settles and is reused after. Plain C++: no CUDA headers.
#pragma once

#include "core/op_profile.h"

namespace diffuse::cuda {

DeviceClock& event_clock();

}  // namespace diffuse::cuda
