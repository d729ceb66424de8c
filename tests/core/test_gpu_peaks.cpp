#include <gtest/gtest.h>

#include "core/gpu_peaks.h"

namespace diffuse {
namespace {

// The names the CUDA runtime gives these cards, and the datasheet peak each must get.
TEST(GpuPeaks, EachCardGetsItsVariantsDenseBf16Peak) {
  const struct {
    const char* name;
    const char* model;
    double tflops;
  } cards[] = {
      {"NVIDIA H100 80GB HBM3", "H100 SXM", 989.0}, {"NVIDIA H100 PCIe", "H100 PCIe", 756.0},
      {"NVIDIA H100 NVL", "H100 NVL", 835.0},       {"NVIDIA H200", "H200 SXM", 989.0},
      {"NVIDIA H200 NVL", "H200 NVL", 835.0},       {"NVIDIA A100-SXM4-80GB", "A100", 312.0},
      {"NVIDIA A100 80GB PCIe", "A100", 312.0},     {"NVIDIA L40S", "L40S", 362.0},
  };
  for (const auto& card : cards) {
    SCOPED_TRACE(card.name);
    const std::optional<GpuPeak> peak = gpu_peak(card.name);
    ASSERT_TRUE(peak.has_value());
    EXPECT_EQ(peak->model, card.model);
    EXPECT_EQ(peak->dense_bf16_tflops, card.tflops);
  }
}

TEST(GpuPeaks, UnknownCardsHaveNoPeak) {
  EXPECT_FALSE(gpu_peak("NVIDIA GeForce RTX 4090").has_value());
  EXPECT_FALSE(gpu_peak("").has_value());
}

}  // namespace
}  // namespace diffuse
