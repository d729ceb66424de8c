#include "tests/support/op_arguments.h"

#include "core/ops.h"
#include "tests/support/op_testing.h"

namespace diffuse::testing {

Tensor make_argument(const Arg& arg, uint64_t seed) {
  if (arg.fill == Fill::Labels) {
    Tensor tensor = Tensor::empty(arg.shape, DType::I32);
    for (int64_t i = 0; i < tensor.numel(); ++i) tensor.i32()[i] = static_cast<int32_t>((i * 7 + 3) % arg.classes);
    return tensor;
  }
  Tensor values;
  switch (arg.fill) {
    case Fill::Positive:
      values = random_tensor(arg.shape, seed, 0.25f, 2.0f);
      break;
    case Fill::Offset:
      values = random_tensor(arg.shape, seed, 49.0f, 51.0f);
      break;
    case Fill::Times:
      values = random_tensor(arg.shape, seed, 0.0f, 1000.0f);
      break;
    default:
      values = random_tensor(arg.shape, seed);
      break;
  }
  if (arg.dtype == DType::F32) return values;
  Tensor converted = Tensor::empty(arg.shape, arg.dtype);
  ops::cast(values, converted);
  return converted;
}

}  // namespace diffuse::testing
