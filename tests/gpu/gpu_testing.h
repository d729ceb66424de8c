// Helpers shared by the GPU tests: skipping without a GPU and the relative
// error that bf16/fp16 results are held to (copy_to, for moving tensors
// between devices, is in tests/support/op_testing.h).
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

// ||actual - expected|| / ||expected|| over all elements (||actual - expected|| when expected is 0).
double relative_error(const Tensor& actual, const Tensor& expected);

}  // namespace diffuse::testing
