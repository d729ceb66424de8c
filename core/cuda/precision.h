// The element type the GPU's matrix products (conv2d, linear, attention)
// multiply in: fp32 (the default, exact fp32 arithmetic, no TF32), bf16 or
// fp16. In bf16/fp16 the CUDA backend rounds those ops' fp32 inputs to that
// type on the fly and runs them on tensor cores with fp32 accumulation; their
// outputs and gradients stay fp32, as do all other ops. This is how
// train.precision reaches the backend (trainer/precision.h sets it); the CPU
// backend always computes in fp32. Plain C++: no CUDA headers.
#pragma once

#include "core/dtype.h"

namespace diffuse::cuda {

// Process-wide; F32, BF16 or F16 (anything else throws).
void set_matmul_dtype(DType dtype);
DType matmul_dtype();

// Sets the matmul dtype for a scope and restores the previous one (tests).
class ScopedMatmulDtype {
 public:
  explicit ScopedMatmulDtype(DType dtype) : previous_(matmul_dtype()) { set_matmul_dtype(dtype); }
  ~ScopedMatmulDtype() { set_matmul_dtype(previous_); }
  ScopedMatmulDtype(const ScopedMatmulDtype&) = delete;
  ScopedMatmulDtype& operator=(const ScopedMatmulDtype&) = delete;

 private:
  DType previous_;
};

}  // namespace diffuse::cuda
