// Helpers shared by the GPU tests: skipping without a GPU, moving tensors
// between devices, and the relative error that bf16/fp16 results are held to.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/cuda/runtime.h"
#include "core/tensor.h"

// Skips the current test, giving the reason, when no GPU is usable.
#define DIFFUSE_REQUIRE_GPU()                                                                        \
  do {                                                                                               \
    if (::diffuse::cuda::device_count() == 0) GTEST_SKIP() << ::diffuse::cuda::unavailable_reason(); \
  } while (0)

namespace diffuse::testing {

// A copy of `tensor` on `device` (same shape and dtype).
Tensor copy_to(const Tensor& tensor, Device device);

// ||actual - expected|| / ||expected|| over all elements (||actual - expected|| when expected is 0).
double relative_error(const Tensor& actual, const Tensor& expected);

}  // namespace diffuse::testing
