// `diffuse bench sample`: sampling throughput (DDIM eta 0 unless another
// sampler is named; its NFE network evaluations per image for `steps` steps,
// twice that with classifier-free guidance) of the config's
// model at a batch, on the CPU backend: images/s, the GFLOP/s of the forward
// passes (2 x forward MACs per image and evaluation), the ratio to the GEMM
// GFLOP/s measured in the same run, and peak memory. The weights are the
// seeded initialization: the cost of a forward pass does not depend on them.
// The last line is one JSON object.
#pragma once

#include <string>
#include <vector>

namespace diffuse {

struct SampleBenchOptions {
  std::string config;
  std::vector<std::string> overrides;
  int batch = 256;
  std::string sampler = "ddim";  // a SamplerKind name
  int steps = 50;                // sampler steps per image
  int repeats = 1;               // timed batches (the median is reported)
  double guidance = 0.0;         // > 0: classifier-free guidance (class-conditional models)
  bool profile = false;          // time per op family (bench/profile_report.h)
};

void run_sample_bench(const SampleBenchOptions& options);

}  // namespace diffuse
