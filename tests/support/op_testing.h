// Helpers shared by the op tests: random inputs, closeness checks and a
// central finite-difference gradient check.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/tensor.h"

namespace diffuse::testing {

// Uniform in [low, high) from Philox, reproducible per seed.
Tensor random_tensor(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f);

// Fails the current test (with the worst element) unless
// |actual - expected| <= atol + rtol * |expected| everywhere.
void expect_close(const Tensor& actual, const Tensor& expected, double rtol, double atol, const std::string& what);

// Sum of projection * output in double: the scalar the gradient check differentiates.
double project(const Tensor& output, const Tensor& projection);

// The message of the diffuse::Error that `body` throws; fails the test (and
// returns "") when it throws none.
std::string error_message(const std::function<void()>& body);

struct GradCheck {
  double step = 1e-2;   // central difference step, relative to inputs of magnitude ~1
  double rtol = 1e-2;   // fp32 forward + O(step^2) truncation
  double atol = 1e-3;
  int max_elements = 64;  // elements probed per input (spread evenly over it)
};

// Perturbs elements of `input` in place by +-step, calls `loss` (which must
// recompute the forward from the current inputs), and compares the central
// difference with `analytic` (d loss / d input, same shape). Restores input.
void expect_gradient(const std::string& what, const Tensor& input, const Tensor& analytic,
                     const std::function<double()>& loss, const GradCheck& options = GradCheck());

}  // namespace diffuse::testing
