// The arguments of an op-table test (tests/gpu/test_gpu_ops.cpp, tests/cuda_emulated/test_emulated_ops.cpp): each
// table entry lists its arguments' shapes, what the op does with them and how they are filled, and both harnesses
// make them the same way, so one backend's result can be compared with another's.
#pragma once

#include <cstdint>
#include <utility>

#include "core/tensor.h"

namespace diffuse::testing {

enum class Fill {
  Uniform,   // U(-1, 1)
  Positive,  // U(0.25, 2): loss weights, Adam's second moments
  Offset,    // 50 + U(-1, 1): a mean large against the spread (group norm's hard case)
  Times,     // U(0, 1000): diffusion timesteps
  Labels,    // i32 in [0, classes)
};

enum class Role {
  Input,        // read only: must come back unchanged
  Output,       // written
  Accumulated,  // added to (parameter gradients)
};

struct Arg {
  Shape shape;
  Role role = Role::Input;
  Fill fill = Fill::Uniform;
  DType dtype = DType::F32;
  int classes = 0;
};

inline Arg input(Shape shape, Fill fill = Fill::Uniform) { return Arg{std::move(shape), Role::Input, fill}; }
inline Arg output(Shape shape) { return Arg{std::move(shape), Role::Output}; }
inline Arg accumulated(Shape shape) { return Arg{std::move(shape), Role::Accumulated}; }
inline Arg labels(Shape shape, int classes) {
  return Arg{std::move(shape), Role::Input, Fill::Labels, DType::I32, classes};
}
inline Arg typed(Arg arg, DType dtype) {
  arg.dtype = dtype;
  return arg;
}

// The argument's values on the CPU, reproducible per seed: drawn as `fill` says, in f32, then cast to its dtype;
// labels are (7 i + 3) mod classes.
Tensor make_argument(const Arg& arg, uint64_t seed);

}  // namespace diffuse::testing
