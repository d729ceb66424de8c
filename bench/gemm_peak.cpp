#include "bench/gemm_peak.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/cpu/gemm.h"
#include "core/cpu/gemm_bf16.h"
#include "core/error.h"
#include "core/half.h"
#include "core/matmul_precision.h"

namespace diffuse {

namespace {

// Best GFLOP/s of C = A B over `repeats` timed runs after one warm-up, A and B of element type T.
template <typename T>
double best_gemm_gflops(int n, int repeats) {
  const size_t count = static_cast<size_t>(n) * n;
  std::vector<T> a(count), b(count);
  std::vector<float> c(count);
  for (size_t i = 0; i < count; ++i) {
    a[i] = from_float<T>(static_cast<float>(i % 13) * 0.01f);
    b[i] = from_float<T>(static_cast<float>(i % 7) * 0.02f);
  }
  double best = 0.0;
  for (int run = 0; run <= repeats; ++run) {
    const auto start = std::chrono::steady_clock::now();
    cpu::gemm(cpu::Transpose::No, cpu::Transpose::No, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (run > 0) best = std::max(best, 2.0 * n * n * static_cast<double>(n) / seconds / 1e9);
  }
  return best;
}

}  // namespace

double measure_gemm_gflops(DType dtype, int n, int repeats) {
  if (dtype == DType::F32) return best_gemm_gflops<float>(n, repeats);
  DIFFUSE_CHECK(
      dtype == DType::BF16 && cpu_multiplies_natively(DType::BF16),
      concat("no ", dtype_name(dtype), " GEMM yardstick on this CPU (fp32 always; bf16 needs AVX512-BF16 or AMX)"));
  return best_gemm_gflops<bf16>(n, repeats);
}

void GemmYardstick::sample() { samples_.push_back(measure_gemm_gflops(dtype_, 1024, 2)); }

double GemmYardstick::median_gflops() const { return samples_.empty() ? 0.0 : median_of(samples_); }

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace diffuse
