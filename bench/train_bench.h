// `diffuse bench train`: full training steps (noising, forward, loss,
// backward, AdamW, EMA) on synthetic data at a given batch, reported as
// images/s, the step's GFLOP/s (3 x forward MACs x 2 per image), the ratio
// to the GEMM GFLOP/s measured in the same run, and peak memory next to what
// the step needs (activations kept for backward + weights, gradients, Adam
// moments and EMA copies). The last line is one JSON object.
#pragma once

#include <string>
#include <vector>

namespace diffuse {

struct TrainBenchOptions {
  std::string config;
  std::vector<std::string> overrides;
  int batch = 0;    // 0 = the config's train.batch_size
  int steps = 5;    // timed steps
  int warmup = 1;   // untimed steps first (allocation, caches)
};

void run_train_bench(const TrainBenchOptions& options);

}  // namespace diffuse
