#include "core/cpu/widened.h"

#include <atomic>

#include "core/matmul_precision.h"
#include "core/ops.h"

namespace diffuse::cpu {

namespace {
std::atomic<bool> widen_only{false};
}  // namespace

bool bf16_products_native() {
  static const bool native = cpu_multiplies_natively(DType::BF16);
  return native && !widen_only;
}

ScopedWidenedBf16Products::ScopedWidenedBf16Products() : previous_(widen_only.exchange(true)) {}
ScopedWidenedBf16Products::~ScopedWidenedBf16Products() { widen_only.store(previous_); }

Tensor widened(const Tensor& tensor) {
  if (!tensor.defined() || tensor.dtype() == DType::F32) return tensor;
  Tensor copy = Tensor::empty(tensor.shape());
  ops::cast(tensor, copy);
  return copy;
}

Tensor f32_output(const Tensor& output) {
  if (!output.defined() || output.dtype() == DType::F32) return output;
  return Tensor::empty(output.shape());
}

void round_into(const Tensor& computed, const Tensor& output) {
  if (computed.raw() != output.raw()) ops::cast(computed, output);
}

}  // namespace diffuse::cpu
