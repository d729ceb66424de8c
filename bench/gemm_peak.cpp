#include "bench/gemm_peak.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/cpu/gemm.h"

namespace diffuse {

double measure_gemm_gflops(int n, int repeats) {
  const size_t count = static_cast<size_t>(n) * n;
  std::vector<float> a(count), b(count), c(count);
  for (size_t i = 0; i < count; ++i) {
    a[i] = static_cast<float>(i % 13) * 0.01f;
    b[i] = static_cast<float>(i % 7) * 0.02f;
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

void GemmYardstick::sample() { samples_.push_back(measure_gemm_gflops(1024, 2)); }

double GemmYardstick::median_gflops() const { return samples_.empty() ? 0.0 : median_of(samples_); }

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace diffuse
