// The GEMM yardsticks benchmarks divide by (bench/gemm_peak.h): fp32 on every
// CPU, bf16 (bf16 A and B, fp32 accumulation) where the CPU multiplies bf16
// natively. Tiny measurements: they check that a rate comes out, not its size.
#include <gtest/gtest.h>

#include "bench/gemm_peak.h"
#include "core/error.h"
#include "core/matmul_precision.h"

namespace diffuse {
namespace {

TEST(GemmYardstick, Fp32MeasuresAPositiveRate) {
  EXPECT_GT(measure_gemm_gflops(DType::F32, 64, 1), 0.0);
  GemmYardstick yardstick;
  EXPECT_EQ(yardstick.dtype(), DType::F32);
  EXPECT_EQ(yardstick.median_gflops(), 0.0) << "no samples yet";
  yardstick.sample();
  EXPECT_GT(yardstick.median_gflops(), 0.0);
}

TEST(GemmYardstick, Bf16MeasuresAPositiveRate) {
  if (!cpu_multiplies_natively(DType::BF16)) GTEST_SKIP() << "this CPU has no bf16 products (AVX512-BF16 or AMX)";
  EXPECT_GT(measure_gemm_gflops(DType::BF16, 64, 1), 0.0);
  GemmYardstick yardstick(DType::BF16);
  EXPECT_EQ(yardstick.dtype(), DType::BF16);
  yardstick.sample();
  EXPECT_GT(yardstick.median_gflops(), 0.0);
}

TEST(GemmYardstick, Bf16IsAnErrorWithoutBf16Products) {
  if (cpu_multiplies_natively(DType::BF16)) GTEST_SKIP() << "this CPU multiplies bf16 natively";
  EXPECT_THROW(measure_gemm_gflops(DType::BF16, 64, 1), Error);
}

TEST(GemmYardstick, NoFp16Yardstick) { EXPECT_THROW(measure_gemm_gflops(DType::F16, 64, 1), Error); }

TEST(GemmYardstick, MedianIsTheMiddleSample) {
  EXPECT_EQ(median_of({3.0, 1.0, 2.0}), 2.0);
  EXPECT_EQ(median_of({4.0, 1.0, 3.0, 2.0}), 3.0) << "the upper middle of an even count";
}

}  // namespace
}  // namespace diffuse
