// How the CPU's product ops (conv2d, linear, attention) handle bf16 activations
// where they cannot multiply in bf16 (a CPU without AVX512-BF16 or AMX, a
// problem oneDNN has no bf16 kernel for): they run their fp32 path on widened
// copies and round each output once. Results then differ from the native bf16
// path only in accumulation order; correctness never depends on the CPU.
#pragma once

#include "core/tensor.h"

namespace diffuse::cpu {

// Whether the CPU multiplies bf16 at full speed (core/matmul_precision.h cpu_multiplies_natively), and no
// ScopedWidenedBf16Products is alive.
bool bf16_products_native();

// While alive, bf16 products take the widened path, so that tests cover it on CPUs with bf16 instructions.
class ScopedWidenedBf16Products {
 public:
  ScopedWidenedBf16Products();
  ~ScopedWidenedBf16Products();
  ScopedWidenedBf16Products(const ScopedWidenedBf16Products&) = delete;
  ScopedWidenedBf16Products& operator=(const ScopedWidenedBf16Products&) = delete;

 private:
  bool previous_;
};

// An fp32 copy of `tensor`, or `tensor` itself when it is fp32 or undefined.
Tensor widened(const Tensor& tensor);

// An fp32 tensor to compute `output` into (uninitialised): `output` itself when it is fp32 or undefined.
Tensor f32_output(const Tensor& output);

// output = `computed` rounded to output's dtype; nothing when they are the same tensor.
void round_into(const Tensor& computed, const Tensor& output);

}  // namespace diffuse::cpu
