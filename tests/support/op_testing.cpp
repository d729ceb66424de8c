#include "tests/support/op_testing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/cpu/gemm.h"
#include "core/ops.h"
#include "core/philox.h"

namespace diffuse::testing {

Tensor random_tensor(const Shape& shape, uint64_t seed, float low, float high) {
  Tensor tensor = Tensor::empty(shape);
  float* data = tensor.f32();
  const RandomStream stream{seed, 0x7e57u, 0, 0};
  const int64_t count = tensor.numel();
  // In parallel: the GPU tests' realistic sizes draw tens of millions of values per argument.
#pragma omp parallel for schedule(static) if (count > (int64_t{1} << 20))
  for (int64_t i = 0; i < count; ++i) data[i] = low + (high - low) * random_uniform(stream, static_cast<uint64_t>(i));
  return tensor;
}

Tensor nan_tensor(const Shape& shape) {
  Tensor tensor = Tensor::empty(shape);
  fill(tensor, std::numeric_limits<float>::quiet_NaN());
  return tensor;
}

Tensor copy_to(const Tensor& tensor, Device device) {
  if (!tensor.defined()) return Tensor();
  Tensor result = Tensor::empty(tensor.shape(), tensor.dtype(), device);
  copy(tensor, result);
  return result;
}

Tensor cast_to(const Tensor& tensor, DType dtype) {
  if (!tensor.defined()) return Tensor();
  Tensor result = Tensor::empty(tensor.shape(), dtype);
  ops::cast(tensor, result);
  return result;
}

double relative_error(const Tensor& actual, const Tensor& expected) {
  const std::vector<float> a = to_vector(actual), e = to_vector(expected);
  double difference = 0.0, reference = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - e[i];
    difference += d * d;
    reference += static_cast<double>(e[i]) * e[i];
  }
  return reference > 0.0 ? std::sqrt(difference / reference) : std::sqrt(difference);
}

Tensor from_doubles(const std::vector<double>& values, const Shape& shape) {
  return from_vector(std::vector<float>(values.begin(), values.end()), shape);
}

Tensor add_scaled(const Tensor& a, float alpha, const Tensor& b) {
  Tensor result = Tensor::empty(a.shape());
  for (int64_t i = 0; i < a.numel(); ++i) result.f32()[i] = a.f32()[i] + alpha * b.f32()[i];
  return result;
}

void expect_close(const Tensor& actual, const Tensor& expected, double rtol, double atol, const std::string& what) {
  ASSERT_EQ(actual.shape(), expected.shape())
      << what << ": shapes differ, " << actual.describe() << " vs " << expected.describe();
  const std::vector<float> a = to_vector(actual), e = to_vector(expected);
  int64_t worst = -1;
  double worst_excess = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double error = std::fabs(static_cast<double>(a[i]) - e[i]);
    const double allowed = atol + rtol * std::fabs(static_cast<double>(e[i]));
    if (!(error <= allowed) && (worst < 0 || error - allowed > worst_excess)) {
      worst = static_cast<int64_t>(i);
      worst_excess = error - allowed;
    }
  }
  EXPECT_LT(worst, 0) << what << ": element " << worst << " is " << (worst >= 0 ? a[worst] : 0.0f) << ", expected "
                      << (worst >= 0 ? e[worst] : 0.0f) << " (rtol " << rtol << ", atol " << atol << ", shape "
                      << shape_string(actual.shape()) << ")";
}

std::string error_message(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "no diffuse::Error was thrown";
  return "";
}

double project(const Tensor& output, const Tensor& projection) {
  const std::vector<float> y = to_vector(output), w = to_vector(projection);
  double total = 0.0;
  for (size_t i = 0; i < y.size(); ++i) total += static_cast<double>(y[i]) * w[i];
  return total;
}

void expect_gradient(const std::string& what, const Tensor& input, const Tensor& analytic,
                     const std::function<double()>& loss, const GradCheck& options) {
  ASSERT_EQ(input.shape(), analytic.shape()) << what;
  float* data = input.f32();
  const float* grad = analytic.f32();
  const int64_t count = input.numel();
  const int64_t probes = std::min<int64_t>(count, options.max_elements);
  int failures = 0;
  for (int64_t p = 0; p < probes; ++p) {
    const int64_t i = probes == count ? p : (p * count) / probes + (p * 7919) % std::max<int64_t>(1, count / probes);
    const float original = data[i];
    data[i] = static_cast<float>(original + options.step);
    const double plus = loss();
    data[i] = static_cast<float>(original - options.step);
    const double minus = loss();
    data[i] = original;
    const double numeric = (plus - minus) / (2.0 * options.step);
    const double error = std::fabs(numeric - grad[i]);
    if (!(error <= options.atol + options.rtol * std::fabs(numeric)) && failures++ < 5) {
      ADD_FAILURE() << what << ": d/d[" << i << "] analytic " << grad[i] << " vs finite difference " << numeric
                    << " (rtol " << options.rtol << ", atol " << options.atol << ")";
    }
  }
}

ScratchBudget::ScratchBudget(size_t bytes) : saved_(cpu::scratch_budget_bytes()) {
  cpu::set_scratch_budget_bytes(bytes);
}

ScratchBudget::~ScratchBudget() { cpu::set_scratch_budget_bytes(saved_); }

}  // namespace diffuse::testing
