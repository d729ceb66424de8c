// Host emulation of the CUDA that our kernels use, so that the kernel files
// (core/cuda/*.cu) compile with the host C++ compiler and run on machines
// without a GPU, tests against the CPU backend included. Included by
// core/cuda/kernel_support.cuh in place of the CUDA headers when the file is
// not compiled by nvcc; the library diffuse_cuda_emulated (core/CMakeLists.txt)
// builds the kernels this way, in namespace diffuse::cuda_emulated (the build
// defines `cuda` as `cuda_emulated`) so they link beside the real backend.
//
// A launch runs every block and every thread of its grid. The threads of a
// block run as fibers on one OS thread, one at a time: a thread runs until it
// reaches __syncthreads or a warp shuffle, where it waits until every thread
// of its block (its warp, for a shuffle) that has not exited has arrived; so
// shared memory and shuffles see the values of the step all threads reached
// (lockstep semantics). A thread that never waits runs to its end without a
// switch, so grid-stride kernels cost little more than a loop. Threads
// waiting at different barriers, a shuffle that reads a lane that has exited
// and launch geometry CUDA would refuse (grid y or z beyond 65535, more than
// 1024 threads a block) are errors. Blocks run on the OpenMP threads in
// parallel: __shared__ variables are thread_local statics, one per block in
// flight. Device memory is host memory: the emulated backend's tensors are
// CPU tensors (kKernelDevice in kernel_support.cuh).
#pragma once

#if defined(__CUDACC__)
#error "core/cuda/host_emulation.h is for host compilers; nvcc builds use the CUDA runtime"
#endif

#include <math.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>

#include "core/cuda/kernel_fault.h"
#include "core/error.h"

#define __global__
#define __device__
#define __host__
#define __shared__ static thread_local

namespace diffuse::cuda_emulation {

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

struct double2 {
  double x, y;
};

inline double2 make_double2(double x, double y) { return double2{x, y}; }

// The built-in variables of the calling (emulated) thread.
const dim3& thread_index();
const dim3& block_index();
const dim3& block_dim();
const dim3& grid_dim();

// __syncthreads: waits until every thread of the block that has not exited arrives.
void sync_threads();

// Publishes `bytes` (<= 8) of the calling lane's value, waits for its warp, and copies lane `source`'s into
// `received`. `mask` must name the whole warp, as every shuffle of our kernels does.
void exchange_in_warp(unsigned mask, const void* value, void* received, size_t bytes, int source);

template <typename T>
T shfl_xor_sync(unsigned mask, T value, int lane_mask) {
  static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
  T received;
  exchange_in_warp(mask, &value, &received, sizeof(T), static_cast<int>(thread_index().x % 32) ^ lane_mask);
  return received;
}

template <typename T>
T shfl_down_sync(unsigned mask, T value, unsigned delta) {
  static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
  const int lane = static_cast<int>(thread_index().x % 32), source = lane + static_cast<int>(delta);
  T received;
  exchange_in_warp(mask, &value, &received, sizeof(T), source < 32 ? source : lane);
  return received;
}

// Blocks run one at a time per OS thread, but on several OS threads: atomics are real.
inline int atomic_cas(int* address, int compare, int value) {
  __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;  // the old value, as atomicCAS returns
}

// Runs `thread_body` as every thread of `grid` blocks of `block` threads; throws a launch CUDA would refuse
// ("invalid configuration argument") before running anything, and the first error a thread raised.
void run_grid(dim3 grid, dim3 block, const std::function<void()>& thread_body);

// A cap on the blocks grid_for gives a grid-stride loop, below kernel_support.cuh's kMaxBlocks: a test lowers it
// so that loops wrap (ScopedBlockCap). No cap (the largest int64_t) by default.
int64_t block_cap();
void set_block_cap(int64_t blocks);

class ScopedBlockCap {
 public:
  explicit ScopedBlockCap(int64_t blocks) : previous_(block_cap()) { set_block_cap(blocks); }
  ~ScopedBlockCap() { set_block_cap(previous_); }
  ScopedBlockCap(const ScopedBlockCap&) = delete;
  ScopedBlockCap& operator=(const ScopedBlockCap&) = delete;

 private:
  int64_t previous_;
};

}  // namespace diffuse::cuda_emulation

using diffuse::cuda_emulation::dim3;
using diffuse::cuda_emulation::double2;
using diffuse::cuda_emulation::make_double2;

#define threadIdx (::diffuse::cuda_emulation::thread_index())
#define blockIdx (::diffuse::cuda_emulation::block_index())
#define blockDim (::diffuse::cuda_emulation::block_dim())
#define gridDim (::diffuse::cuda_emulation::grid_dim())
#define __syncthreads() ::diffuse::cuda_emulation::sync_threads()
#define __shfl_xor_sync(mask, value, lane_mask) ::diffuse::cuda_emulation::shfl_xor_sync(mask, value, lane_mask)
#define __shfl_down_sync(mask, value, delta) ::diffuse::cuda_emulation::shfl_down_sync(mask, value, delta)
#define atomicCAS(address, compare, value) ::diffuse::cuda_emulation::atomic_cas(address, compare, value)

// The runtime calls of the launchers: copies and memsets are immediate, there is one (null) stream.
enum cudaError_t { cudaSuccess = 0 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
using cudaStream_t = struct EmulatedStream*;

inline cudaError_t cudaMemcpyAsync(void* destination, const void* source, size_t bytes, cudaMemcpyKind, cudaStream_t) {
  std::memmove(destination, source, bytes);
  return cudaSuccess;
}

inline cudaError_t cudaMemsetAsync(void* destination, int value, size_t bytes, cudaStream_t) {
  std::memset(destination, value, bytes);
  return cudaSuccess;
}

#define CUDA_CHECK(statement) DIFFUSE_CHECK((statement) == cudaSuccess, "emulated CUDA call failed: ", #statement)

namespace diffuse::cuda {

// The emulated device context: its stream and its fault word (one per process; the emulated tests run launches
// from one thread at a time).
class EmulatedContext {
 public:
  cudaStream_t stream() const { return nullptr; }
  KernelFault* faults() { return &fault_; }
  // Throws the first fault kernels recorded since the last check, and clears it.
  void check_faults() {
    const KernelFault fault = fault_;
    fault_ = KernelFault{};
    throw_kernel_fault(fault);
  }

 private:
  KernelFault fault_{};
};

using DeviceContext = EmulatedContext;

inline EmulatedContext& context() {
  static EmulatedContext emulated;
  return emulated;
}

inline cudaStream_t stream() { return nullptr; }

}  // namespace diffuse::cuda
