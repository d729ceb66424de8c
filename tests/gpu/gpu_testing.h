// Helpers shared by the GPU tests: skipping without a GPU and the types library
// calls ran with (copy_to, for moving tensors between devices, and
// relative_error, which bf16/fp16 results are held to, are in
// tests/support/op_testing.h).
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

// The record of the types cuDNN and cuBLAS calls ran with (core/cuda/library_types.h): cleared, then checked to
// hold only calls with `dtype` operands (fp32 accumulation), and with `with_work` at least one. A bf16 or fp16
// pass that fell back to another type fails here even where its results pass a tolerance.
void reset_library_calls();
void expect_library_calls_in(DType dtype, bool with_work, const std::string& what);

}  // namespace diffuse::testing
