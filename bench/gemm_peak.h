// The machine's measured GEMM throughput: the yardstick every benchmark
// divides by, because absolute seconds on shared machines say little.
#pragma once

#include <vector>

#include "core/dtype.h"

namespace diffuse {

// Best GFLOP/s of square GEMMs of size n on the CPU backend's GEMM with the
// current thread count, over `repeats` timed runs after one warm-up. `dtype`
// is what A and B hold: F32 (sgemm) or BF16 (fp32 accumulation and result,
// core/cpu/gemm_bf16.h; only where cpu_multiplies_natively(BF16), else an Error).
double measure_gemm_gflops(DType dtype = DType::F32, int n = 1024, int repeats = 5);

// The yardstick as the benches use it. Shared machines change speed by tens
// of percent within seconds, so the GEMM rate is sampled right after each
// timed run and the median of those samples is the peak a ratio divides by:
// numerator and denominator then see the same machine.
class GemmYardstick {
 public:
  explicit GemmYardstick(DType dtype = DType::F32) : dtype_(dtype) {}
  DType dtype() const { return dtype_; }
  void sample();
  double median_gflops() const;

 private:
  DType dtype_;
  std::vector<double> samples_;
};

// The middle element (the upper one of an even count); values must not be empty.
double median_of(std::vector<double> values);

}  // namespace diffuse
