// What every CUDA kernel file shares: launch geometry for grid-stride loops,
// the launch itself, typed device pointers of Tensors, warp and block sums in
// double, and kernel fault reporting. Loads and stores of bf16/fp16 use
// core/half.h's to_float / from_float, so conversions round exactly as on the
// CPU. Compiled by a host compiler, the kernel files run on the host emulation
// of core/cuda/host_emulation.h instead of the CUDA runtime.
#pragma once

#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include "core/checks_cuda.h"
#include "core/cuda/context.h"
#else
#include "core/cuda/host_emulation.h"
#endif

#include <cstdint>

#include "core/half.h"
#include "core/tensor.h"

namespace diffuse::cuda {

// Where the kernels' memory lives: the GPU, or host memory under the emulation.
#if defined(__CUDACC__)
constexpr Device kKernelDevice = Device::CUDA;
#else
constexpr Device kKernelDevice = Device::CPU;
#endif

constexpr int kThreads = 256;
// Enough blocks to fill any current GPU several times; grid-stride loops do the rest.
constexpr int64_t kMaxBlocks = int64_t{1} << 16;

// The emulation's tests lower the cap so that grid-stride loops wrap at realistic sizes.
inline int64_t max_blocks() {
#if defined(__CUDACC__)
  return kMaxBlocks;
#else
  const int64_t lowered = cuda_emulation::block_cap();
  return lowered < kMaxBlocks ? lowered : kMaxBlocks;
#endif
}

inline unsigned grid_for(int64_t count, int threads = kThreads) {
  const int64_t blocks = (count + threads - 1) / threads, cap = max_blocks();
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

// Runs kernel(args...) on `grid` blocks of `threads` threads on the compute stream and checks the launch.
template <typename... Params, typename... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, unsigned threads, Args... args) {
#if defined(__CUDACC__)
  kernel<<<grid, threads, 0, stream()>>>(args...);
  CUDA_CHECK_LAUNCH();
#else
  cuda_emulation::run_grid(grid, dim3(threads), [&] { kernel(args...); });
#endif
}

template <typename T>
T* device_data(const Tensor& tensor) {
  return static_cast<T*>(tensor.raw());
}

// Stream-ordered scratch memory for `count` doubles (no double dtype: two f32 slots each).
inline Tensor scratch_doubles(int64_t count) { return Tensor::empty({2 * count}, DType::F32, kKernelDevice); }

// Threads for a block whose threads walk `columns` (channels) side by side:
// whole warps, at most 256.
inline int threads_for_columns(int64_t columns) {
  return columns >= 256 ? 256 : static_cast<int>((columns + 31) / 32 * 32);
}

// Kernels that give each row a warp run kWarpsPerBlock rows per block.
constexpr int kWarpsPerBlock = 8;

inline unsigned blocks_for_rows(int64_t rows) {
  return static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
}

// The row of the calling warp in such a kernel, and the thread's lane in it.
__device__ inline int64_t warp_row() { return static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32; }
__device__ inline int warp_lane() { return static_cast<int>(threadIdx.x % 32); }

__device__ inline int64_t grid_start() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ inline int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

__device__ inline double warp_sum(double value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

__device__ inline float warp_max(float value) {
  for (int offset = 16; offset > 0; offset >>= 1) value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

__device__ inline float warp_sum(float value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

// Sum over the block in a fixed order (deterministic); the result is valid in thread 0.
// blockDim.x must be a multiple of 32, at most 1024.
__device__ inline double block_sum(double value) {
  __shared__ double warp_totals[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  value = warp_sum(value);
  __syncthreads();  // a previous call's readers are done with warp_totals
  if (lane == 0) warp_totals[warp] = value;
  __syncthreads();
  double total = 0.0;
  if (threadIdx.x == 0)
    for (int w = 0; w < warps; ++w) total += warp_totals[w];
  return total;
}

// Launches kernel(args..., count) on the compute stream with the grid of a
// grid-stride loop over `count` elements; a count of 0 launches nothing.
template <typename... Params, typename... Args>
void launch_elements(void (*kernel)(Params...), int64_t count, Args... args) {
  if (count <= 0) return;
  launch_kernel(kernel, grid_for(count), kThreads, args..., count);
}

// Records the first fault of a launch; later ones are dropped (the first names the problem).
__device__ inline void record_fault(KernelFault* fault, int code, int value, int index, int limit) {
  if (atomicCAS(&fault->code, static_cast<int>(kFaultNone), code) == kFaultNone) {
    fault->value = value;
    fault->index = index;
    fault->limit = limit;
  }
}

}  // namespace diffuse::cuda
