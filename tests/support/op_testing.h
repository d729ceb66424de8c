// Helpers shared by the op tests: inputs (random, NaN-filled, copies),
// closeness checks, a central finite-difference gradient check, and a scoped
// CPU scratch budget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace diffuse::testing {

// Uniform in [low, high) from Philox, reproducible per seed.
Tensor random_tensor(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f);

// All NaN: an output slot that an op must write rather than accumulate into.
Tensor nan_tensor(const Shape& shape);

// A copy of `tensor` on `device` (same shape and dtype); undefined stays undefined.
Tensor copy_to(const Tensor& tensor, Device device);
// `tensor` (on the CPU) converted to `dtype` by ops::cast: rounded to nearest even, or widened exactly; undefined
// stays undefined.
Tensor cast_to(const Tensor& tensor, DType dtype);

// ||actual - expected|| / ||expected|| over all elements of two f32 CPU tensors (||actual - expected|| when
// expected is 0).
double relative_error(const Tensor& actual, const Tensor& expected);

// An f32 CPU tensor of double reference values, each rounded once.
Tensor from_doubles(const std::vector<double>& values, const Shape& shape);

// a + alpha * b elementwise (f32 CPU tensors of one shape): the expected
// contents of a gradient slot after accumulating into it.
Tensor add_scaled(const Tensor& a, float alpha, const Tensor& b);

// Fails the current test (with the worst element) unless
// |actual - expected| <= atol + rtol * |expected| everywhere.
void expect_close(const Tensor& actual, const Tensor& expected, double rtol, double atol, const std::string& what);

// Sum of projection * output in double: the scalar the gradient check differentiates.
double project(const Tensor& output, const Tensor& projection);

// The message of the diffuse::Error that `body` throws; fails the test (and
// returns "") when it throws none.
std::string error_message(const std::function<void()>& body);

struct GradCheck {
  double step = 1e-2;  // central difference step, relative to inputs of magnitude ~1
  double rtol = 1e-2;  // fp32 forward + O(step^2) truncation
  double atol = 1e-3;
  int max_elements = 64;  // elements probed per input (spread evenly over it)
};

// Perturbs elements of `input` in place by +-step, calls `loss` (which must
// recompute the forward from the current inputs), and compares the central
// difference with `analytic` (d loss / d input, same shape). Restores input.
void expect_gradient(const std::string& what, const Tensor& input, const Tensor& analytic,
                     const std::function<double()>& loss, const GradCheck& options = GradCheck());

// Sets the CPU backend's scratch budget (core/cpu/gemm.h) for a scope and
// restores the previous one: tests lower it to exercise chunked paths.
class ScratchBudget {
 public:
  explicit ScratchBudget(size_t bytes);
  ~ScratchBudget();
  ScratchBudget(const ScratchBudget&) = delete;
  ScratchBudget& operator=(const ScratchBudget&) = delete;

 private:
  size_t saved_;
};

}  // namespace diffuse::testing
