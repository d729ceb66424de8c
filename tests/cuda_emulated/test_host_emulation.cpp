// The host emulation of CUDA (core/cuda/host_emulation.h) on small kernels of
// its own: every block and thread runs, __syncthreads and shuffles see the
// values of the step every thread reached, and what CUDA would refuse or
// leave undefined (geometry beyond the limits, barriers not all threads
// reach, shuffles from exited lanes) is an error.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "core/cuda/kernel_support.cuh"
#include "tests/support/op_testing.h"

namespace diffuse::cuda {
namespace {

using cuda_emulation::run_grid;

// out[block][i] = in[block][blockDim - 1 - i] through shared memory, twice in a row (the second pass must not
// see the first pass's values: the barrier between the reads and the next writes).
__global__ void reverse_twice_kernel(const int* in, int* out) {
  __shared__ int staged[1024];
  const unsigned i = threadIdx.x, n = blockDim.x;
  const int* block_in = in + blockIdx.x * n;
  int value = block_in[i];
  for (int pass = 0; pass < 2; ++pass) {
    staged[i] = value;
    __syncthreads();
    value = staged[n - 1 - i];
    __syncthreads();
  }
  out[blockIdx.x * n + i] = value + static_cast<int>(blockIdx.y * 1000);
}

TEST(HostEmulation, SharedMemoryAndBarriersAcrossBlocks) {
  const unsigned threads = 96, blocks = 5;
  std::vector<int> in(threads * blocks), out(threads * blocks * 2, -1);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int>(i * 7 % 101);
  // grid y of 2: both rows of blocks write their own half.
  run_grid(dim3(blocks, 2), dim3(threads),
           [&] { reverse_twice_kernel(in.data(), out.data() + blockIdx.y * threads * blocks); });
  for (unsigned row = 0; row < 2; ++row)
    for (size_t i = 0; i < in.size(); ++i)
      EXPECT_EQ(out[row * in.size() + i], in[i] + static_cast<int>(row) * 1000) << "row " << row << " element " << i;
}

// Every lane ends up with the warp's sum; block_sum gives thread 0 the block's.
__global__ void sums_kernel(const double* in, double* warp_sums, double* block_sums) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  warp_sums[i] = warp_sum(in[i]);
  const double total = block_sum(in[i]);
  if (threadIdx.x == 0) block_sums[blockIdx.x] = total;
}

TEST(HostEmulation, WarpShufflesAndBlockSums) {
  const unsigned threads = 256, blocks = 3;
  std::vector<double> in(threads * blocks), warp_sums(in.size()), block_sums(blocks);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<double>(i % 37) - 11.0;
  run_grid(dim3(blocks), dim3(threads), [&] { sums_kernel(in.data(), warp_sums.data(), block_sums.data()); });
  for (size_t b = 0; b < blocks; ++b) {
    double block_total = 0.0;
    for (size_t w = 0; w < threads / 32; ++w) {
      double warp_total = 0.0;
      for (size_t lane = 0; lane < 32; ++lane) warp_total += in[b * threads + w * 32 + lane];
      for (size_t lane = 0; lane < 32; ++lane) EXPECT_EQ(warp_sums[b * threads + w * 32 + lane], warp_total);
      block_total += warp_total;
    }
    EXPECT_EQ(block_sums[b], block_total) << "block " << b;
  }
}

__global__ void shuffle_down_kernel(int* out) {
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, static_cast<int>(threadIdx.x) * 10, 3);
}

TEST(HostEmulation, ShuffleDownKeepsTheLanesPastTheEnd) {
  std::vector<int> out(64);
  run_grid(dim3(1), dim3(64), [&] { shuffle_down_kernel(out.data()); });
  for (int i = 0; i < 64; ++i) EXPECT_EQ(out[i], (i % 32 + 3 < 32 ? i + 3 : i) * 10) << i;
}

TEST(HostEmulation, GeometryBeyondCudaLimitsIsRefused) {
  std::atomic<int> runs{0};  // blocks run on several threads
  const auto count = [&] { ++runs; };
  EXPECT_NO_THROW(run_grid(dim3(1, 65535), dim3(1), count));
  EXPECT_EQ(runs, 65535);
  const std::string y = testing::error_message([&] { run_grid(dim3(1, 65536), dim3(1), count); });
  EXPECT_NE(y.find("invalid configuration argument"), std::string::npos) << y;
  EXPECT_NE(testing::error_message([&] { run_grid(dim3(1, 1, 65536), dim3(1), count); }).find("65535"),
            std::string::npos);
  EXPECT_NE(testing::error_message([&] { run_grid(dim3(1), dim3(1025), count); }).find("1024 threads"),
            std::string::npos);
  EXPECT_NE(testing::error_message([&] { run_grid(dim3(0), dim3(32), count); }).find("invalid configuration"),
            std::string::npos);
  EXPECT_EQ(runs, 65535) << "a refused launch runs nothing";
}

__global__ void half_block_syncs_kernel() {
  if (threadIdx.x < 16) __syncthreads();
}

TEST(HostEmulation, BarrierNotEveryThreadReachesIsAnErrorUnlessTheOthersExit) {
  // Threads that exit no longer count (as on Volta and later): half the block at a barrier completes it.
  EXPECT_NO_THROW(run_grid(dim3(2), dim3(64), [] { half_block_syncs_kernel(); }));
}

__global__ void divergent_barriers_kernel(float* out) {
  if (threadIdx.x < 32) {
    __syncthreads();
  } else {
    out[threadIdx.x] = warp_sum(1.0f);  // the lanes of warp 1 shuffle while warp 0 waits at the block barrier
    __syncthreads();
  }
}

TEST(HostEmulation, ThreadsAtDifferentBarriersAreADeadlock) {
  std::vector<float> out(64);
  EXPECT_NO_THROW(run_grid(dim3(1), dim3(64), [&] { divergent_barriers_kernel(out.data()); }))
      << "warp 1's shuffles complete among its own lanes; both warps then meet at the second barrier";
  // A warp whose lanes wait at a shuffle and at __syncthreads can never go on.
  const std::string message = testing::error_message([&] {
    run_grid(dim3(1), dim3(32), [&] {
      if (threadIdx.x == 0) {
        __syncthreads();
      } else {
        warp_sum(1.0f);
      }
    });
  });
  EXPECT_NE(message.find("deadlock"), std::string::npos) << message;
}

TEST(HostEmulation, ShuffleFromAnExitedLaneIsAnError) {
  const std::string message = testing::error_message([] {
    run_grid(dim3(1), dim3(32), [] {
      if (threadIdx.x == 5) return;
      warp_sum(1.0f);
    });
  });
  EXPECT_NE(message.find("lane 5 exited"), std::string::npos) << message;
}

TEST(HostEmulation, ErrorsInsideKernelsReachTheLauncherAndLaterLaunchesWork) {
  const std::string message = testing::error_message([] {
    run_grid(dim3(4), dim3(64), [] {
      __syncthreads();
      DIFFUSE_CHECK(!(blockIdx.x == 2 && threadIdx.x == 40), "thread 40 of block 2 objects");
      __syncthreads();
    });
  });
  EXPECT_NE(message.find("thread 40 of block 2 objects"), std::string::npos) << message;
  std::vector<double> in(64, 1.0), warp_sums(64), block_sums(1);
  run_grid(dim3(1), dim3(64), [&] { sums_kernel(in.data(), warp_sums.data(), block_sums.data()); });
  EXPECT_EQ(block_sums[0], 64.0);
}

TEST(HostEmulation, GridForHonoursTheBlockCap) {
  EXPECT_EQ(grid_for(int64_t{1} << 30), static_cast<unsigned>(kMaxBlocks));
  const cuda_emulation::ScopedBlockCap cap(7);
  EXPECT_EQ(grid_for(100 * kThreads), 7u);
  EXPECT_EQ(grid_for(3 * kThreads), 3u);
}

}  // namespace
}  // namespace diffuse::cuda
