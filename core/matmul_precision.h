// The element type matrix products (conv2d, linear, attention) multiply in.
// Activations in bf16 or fp16 multiply in their own type (fp32 accumulation,
// outputs rounded once). fp32 activations multiply in the process-wide matmul
// dtype: fp32 (the default: exact fp32 arithmetic, no TF32), bf16 or fp16, in
// which case a backend rounds those ops' fp32 inputs to that type on the fly
// and multiplies with fp32 accumulation (tensor cores on GPUs, oneDNN's bf16
// kernels on CPUs, for convolutions, while the CPU's linear layers and
// attention stay fp32); their outputs and gradients stay fp32, as do all other
// ops.
// Under train.precision bf16 or fp16 the U-Net's activations are in that type
// (run/precision.h), so the matmul dtype only reaches the products whose
// inputs stay fp32: the time embedding's, those of forwards outside
// training (sampling, teachers) and those of U-Nets built in f32 (the
// consistency-distillation target). run/precision.h sets it, after checking that
// the device can.
#pragma once

#include "core/dtype.h"

namespace diffuse {

// Process-wide; F32, BF16 or F16 (anything else throws).
void set_matmul_dtype(DType dtype);
DType matmul_dtype();

// What a product whose activations have dtype `activations` multiplies in: that dtype when it is bf16 or fp16,
// the matmul dtype when it is fp32.
DType product_dtype(DType activations);

// Whether the CPU backend multiplies in `dtype` at full speed on this CPU:
// fp32 always; bf16 where the CPU has AVX512-BF16 or AMX (oneDNN's bf16
// kernels); fp16 never.
bool cpu_multiplies_natively(DType dtype);

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

}  // namespace diffuse
