// The machine's measured GEMM throughput: the yardstick every benchmark
// divides by, because absolute seconds on shared machines say little.
#pragma once

namespace diffuse {

// Best GFLOP/s of square fp32 GEMMs of size n on the CPU backend's BLAS with
// the current thread count, over `repeats` timed runs after one warm-up.
double measure_gemm_gflops(int n = 1024, int repeats = 5);

}  // namespace diffuse
