// GPU runtime tests. On a machine without a GPU (or driver) they check that
// nothing crashes and that CUDA requests fail with a readable message; the
// rest skip with the reason.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/cuda/random.h"
#include "core/cuda/runtime.h"
#include "core/ops.h"

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

uint32_t bits_of(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// The same Philox streams on both devices: uniforms bit for bit; normals to
// within one ulp (Box-Muller goes through each side's double libm).
TEST(GpuRuntime, PhiloxStreamsMatchCpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << cuda::unavailable_reason();
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

}  // namespace
}  // namespace diffuse
