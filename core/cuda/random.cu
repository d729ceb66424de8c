// Philox fill kernel: one thread per element, each addressing its element of
// its row's stream directly, so the result matches the CPU fill bit for bit
// (uniform) or to the rounding of double-precision libm (normal).
#include "core/checks_cuda.h"
#include "core/cuda/random.h"

namespace diffuse::cuda {

namespace {

__global__ void fill_random_kernel(float* data, int64_t rows, int64_t row_length, uint64_t seed, uint32_t purpose,
                                   uint32_t step, uint32_t first_sample, bool normal) {
  const int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (index >= rows * row_length) return;
  const int64_t row = index / row_length, column = index % row_length;
  const RandomStream stream{seed, purpose, step, first_sample + static_cast<uint32_t>(row)};
  data[index] = normal ? random_normal(stream, static_cast<uint64_t>(column))
                       : random_uniform(stream, static_cast<uint64_t>(column));
}

}  // namespace

void fill_random(float* data, int64_t rows, int64_t row_length, uint64_t seed, uint32_t purpose, uint32_t step,
                 uint32_t first_sample, Distribution distribution) {
  const int64_t count = rows * row_length;
  if (count == 0) return;
  constexpr int kThreads = 256;
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  fill_random_kernel<<<static_cast<unsigned>(blocks), kThreads>>>(data, rows, row_length, seed, purpose, step,
                                                                   first_sample, distribution == Distribution::Normal);
  CUDA_CHECK_LAUNCH();
}

}  // namespace diffuse::cuda
