// The ops that take bf16 and f16 activations (core/ops.h), as one table for two tests: the CPU backend's
// low-precision path against its fp32 path on the widened inputs (tests/ops/test_low_precision.cpp), and the CUDA
// kernels on the host emulation against the CPU backend, both in low precision
// (tests/cuda_emulated/test_emulated_ops.cpp). Each entry lists its arguments, which of them are activations
// (made in the type under test) and which stay f32 (parameters, their gradients, statistics), and calls one
// backend method, or a forward then its backward.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/backend.h"
#include "tests/support/op_arguments.h"

namespace diffuse::testing {

// An argument of an entry: an activation unless made with fp32(); an Arg converts to one, so entries list plain
// input(...) and output(...) for activations.
struct CaseArg {
  CaseArg(Arg arg, bool activation = true)  // NOLINT(google-explicit-constructor)
      : arg(std::move(arg)), activation(activation) {}
  Arg arg;
  bool activation;
};

// An argument that stays f32 whatever the activations' type.
inline CaseArg fp32(Arg arg) { return CaseArg(std::move(arg), false); }

struct LowPrecisionCase {
  std::string name;
  std::vector<CaseArg> args;
  std::function<void(Backend&, const std::vector<Tensor>&)> call;
  // False where the CUDA kernels sum in another order than the CPU (group norm's statistics and gradients, the
  // modulation's gradient), so their fp32 results, and the roundings of those, may differ in the last place.
  bool same_arithmetic_on_both_backends = true;
};

std::ostream& operator<<(std::ostream& out, const LowPrecisionCase& op);

std::vector<LowPrecisionCase> low_precision_cases();

// The case's arguments on the CPU, activations in `activation_type`: make_argument's values, seeded by position.
std::vector<Tensor> make_case_arguments(const LowPrecisionCase& op, DType activation_type);

}  // namespace diffuse::testing
