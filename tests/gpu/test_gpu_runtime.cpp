// GPU runtime tests. On a machine without a GPU (or driver) they check that
// nothing crashes, that CUDA requests fail with a readable message and that
// library version checks name both versions; the rest skip with the reason.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/cuda/random.h"
#include "core/matmul_precision.h"
#include "core/op_profile.h"
#include "core/ops.h"
#include "tests/gpu/gpu_testing.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

TEST(GpuRuntime, DiscoveryNeverCrashes) {
  const int count = cuda::device_count();
  EXPECT_GE(count, 0);
  if (count == 0) {
    EXPECT_FALSE(cuda::unavailable_reason().empty());
  }
  EXPECT_NE(cuda::library_versions().find("cuDNN"), std::string::npos);
}

TEST(GpuRuntime, CudaTensorWithoutGpuIsAClearError) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is visible";
  try {
    Tensor::empty({4}, DType::F32, Device::CUDA);
    FAIL() << "allocating on a missing GPU must throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("CUDA"), std::string::npos) << error.what();
  }
}

TEST(GpuRuntime, CudaBackendWithoutGpuIsAClearError) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is visible";
  try {
    backend_for(Device::CUDA);
    FAIL() << "asking for the CUDA backend without a GPU must throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("no usable GPU"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find(cuda::unavailable_reason()), std::string::npos) << error.what();
  }
}

// The rule itself is tested on every build (tests/core/test_library_versions.cpp); here, this binary with the
// libraries it loaded.
TEST(GpuRuntime, LoadedLibrariesQualify) { EXPECT_EQ(cuda::library_version_problem(), ""); }

TEST(GpuRuntime, MatmulDtypeIsAFloatType) {
  EXPECT_EQ(matmul_dtype(), DType::F32);
  {
    const ScopedMatmulDtype scoped(DType::BF16);
    EXPECT_EQ(matmul_dtype(), DType::BF16);
  }
  EXPECT_EQ(matmul_dtype(), DType::F32);
  EXPECT_THROW(set_matmul_dtype(DType::I32), Error);
}

uint32_t bits_of(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// The same Philox streams on both devices: uniforms bit for bit; normals to
// within one ulp (Box-Muller goes through each side's double libm).
TEST(GpuRuntime, PhiloxStreamsMatchCpu) {
  DIFFUSE_REQUIRE_GPU();
  const int64_t rows = 5, row_length = 1031;
  for (const auto distribution : {cuda::Distribution::Uniform, cuda::Distribution::Normal}) {
    Tensor host = Tensor::empty({rows, row_length});
    Tensor device = Tensor::empty({rows, row_length}, DType::F32, Device::CUDA);
    if (distribution == cuda::Distribution::Uniform) {
      ops::fill_uniform(host, 1234, kPurposeNoise, 7, 100);
    } else {
      ops::fill_normal(host, 1234, kPurposeNoise, 7, 100);
    }
    cuda::fill_random(static_cast<float*>(device.raw()), rows, row_length, 1234, kPurposeNoise, 7, 100, distribution);
    const std::vector<float> expected = to_vector(host), actual = to_vector(device);
    for (size_t i = 0; i < expected.size(); ++i) {
      const int64_t ulps = static_cast<int64_t>(bits_of(actual[i])) - static_cast<int64_t>(bits_of(expected[i]));
      const int64_t allowed = distribution == cuda::Distribution::Uniform ? 0 : 1;
      ASSERT_LE(std::llabs(ulps), allowed) << "element " << i << ": " << actual[i] << " vs " << expected[i];
    }
  }
}

// Freed tensors go back to the stream-ordered pool and are reused: the same
// allocation pattern repeated does not hold more memory.
TEST(GpuRuntime, MemoryIsRecycled) {
  DIFFUSE_REQUIRE_GPU();
  Allocator& allocator = allocator_for(Device::CUDA);
  const int64_t before = allocator.bytes_in_use();
  for (int round = 0; round < 3; ++round) {
    Tensor a = Tensor::zeros({1 << 20}, DType::F32, Device::CUDA);
    Tensor b = Tensor::empty({1 << 18}, DType::BF16, Device::CUDA);
    ops::scale(a, 2.0f, a);
  }
  cuda::synchronize();
  EXPECT_EQ(allocator.bytes_in_use(), before);
  const int64_t reserved = cuda::reserved_peak_bytes();
  for (int round = 0; round < 3; ++round) Tensor a = Tensor::zeros({1 << 20}, DType::F32, Device::CUDA);
  cuda::synchronize();
  EXPECT_EQ(cuda::reserved_peak_bytes(), reserved);
}

// Copies to the host see every op queued before them (one stream).
TEST(GpuRuntime, CopiesAreOrderedWithOps) {
  DIFFUSE_REQUIRE_GPU();
  Tensor x = testing::copy_to(from_vector({1.0f, 2.0f, 3.0f}, {3}), Device::CUDA);
  for (int i = 0; i < 100; ++i) ops::scale(x, 1.5f, x);
  float expected = 3.0f;
  for (int i = 0; i < 100; ++i) expected = 1.5f * expected;
  EXPECT_EQ(to_vector(x)[2], expected);
}

// Uploads go through a ring of pinned buffers. Behind a long queue of work,
// more uploads than the ring has slots (of growing sizes, and one too large to
// stage) must each wait for their slot's previous copy, and the host may
// overwrite every source as soon as copy() returns.
TEST(GpuRuntime, UploadsMayReuseTheirSourceAtOnce) {
  DIFFUSE_REQUIRE_GPU();
  std::vector<int64_t> sizes;
  for (int i = 0; i < 40; ++i) sizes.push_back(1 + 997 * i * i);
  sizes.push_back((int64_t{8} << 20) / 4 + 1);  // just above the staged size: copied directly
  std::vector<Tensor> sources, uploaded;
  for (size_t k = 0; k < sizes.size(); ++k) {
    sources.push_back(Tensor::empty({sizes[k]}));
    uploaded.push_back(Tensor::empty({sizes[k]}, DType::F32, Device::CUDA));
  }
  Tensor busy = Tensor::zeros({int64_t{1} << 26}, DType::F32, Device::CUDA);
  for (int i = 0; i < 2000; ++i) ops::scale(busy, 1.0f, busy);  // some 0.2 s of work queued ahead of the copies
  for (size_t k = 0; k < sizes.size(); ++k) {
    for (int64_t i = 0; i < sizes[k]; ++i) sources[k].f32()[i] = static_cast<float>(k * 7919 + i % 7919);
    copy(sources[k], uploaded[k]);
    fill(sources[k], -1.0f);
  }
  for (size_t k = 0; k < sizes.size(); ++k) {
    const std::vector<float> values = to_vector(uploaded[k]);
    for (int64_t i = 0; i < sizes[k]; ++i)
      ASSERT_EQ(values[static_cast<size_t>(i)], static_cast<float>(k * 7919 + i % 7919))
          << "upload " << k << " at " << i;
  }
}

// With op profiling on, GPU ops are timed on the device (core/op_profile.h): each call is counted once its times
// are settled, and the device time of the ops fits inside the wall time around them.
TEST(GpuRuntime, OpProfileTimesGpuOpsOnTheDevice) {
  DIFFUSE_REQUIRE_GPU();
  EXPECT_NE(device_clock(Device::CUDA), nullptr);
  const Tensor x = testing::copy_to(testing::random_tensor({128, 32, 32, 128}, 1), Device::CUDA);
  const Tensor w = testing::copy_to(testing::random_tensor({128, 3, 3, 128}, 2), Device::CUDA);
  const Tensor y = Tensor::empty({128, 32, 32, 128}, DType::F32, Device::CUDA);
  ops::conv2d_forward(x, w, Tensor(), y, 1, 1);  // the cuDNN plan is made before the profile starts
  cuda::synchronize();

  reset_op_profile();
  set_op_profiling(true);
  const auto start = std::chrono::steady_clock::now();
  for (int call = 0; call < 3; ++call) ops::conv2d_forward(x, w, Tensor(), y, 1, 1);
  ops::silu_forward(y, y);
  cuda::synchronize();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  set_op_profiling(false);

  std::map<std::string, OpTime> by_op;
  double device_total = 0.0;
  for (const OpTime& time : op_profile()) {
    by_op[time.op] = time;
    device_total += time.seconds;
  }
  EXPECT_EQ(by_op["conv2d_forward"].calls, 3);
  EXPECT_EQ(by_op["silu_forward"].calls, 1);
  EXPECT_GT(by_op["conv2d_forward"].seconds, 0.0);
  EXPECT_GT(by_op["silu_forward"].seconds, 0.0);
  EXPECT_LE(device_total, wall);
  reset_op_profile();
}

}  // namespace
}  // namespace diffuse
