// Philox fills on the GPU, drawing exactly the streams of the CPU backend's
// fill_uniform / fill_normal (core/philox.h is shared by both).
#pragma once

#include <cstdint>

#include "core/philox.h"

namespace diffuse::cuda {

enum class Distribution { Uniform, Normal };

// data [rows, row_length] on the current device: row r is stream
// {seed, purpose, step, first_sample + r}. Queued on the compute stream.
void fill_random(float* data, int64_t rows, int64_t row_length, uint64_t seed, uint32_t purpose, uint32_t step,
                 uint32_t first_sample, Distribution distribution);

}  // namespace diffuse::cuda
