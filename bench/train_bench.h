// `diffuse bench train`: full training steps (noising, forward, loss, backward, AdamW, EMA) on synthetic data at a
// given batch, reported as images/s, the step's GFLOP/s (3 x forward MACs x 2 per image), the ratio to the GEMM
// GFLOP/s measured in the same run, and peak memory next to what the step needs (activations kept for backward +
// weights, gradients, Adam moments and EMA copies). On the CPU both GEMM yardsticks are measured, fp32 and (where the
// CPU multiplies bf16 natively) bf16, and the ratio divides by the one of the type the products multiply in
// (train.precision bf16 with native bf16: the bf16 one); the JSON names it as "ratio_yardstick". On a GPU (--device
// cuda, or auto with a GPU visible) the yardstick is the GPU's dense bf16 peak instead (core/gpu_peaks.h: H100 SXM,
// PCIe and NVL, H200 SXM and NVL, A100, L40S; the datasheet entry used is printed and is "mfu_peak" in the JSON): the
// ratio is the model FLOP utilisation (MFU), and train.precision (--set train.precision=bf16) picks the matrix
// products' type. The last line is one JSON object.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "distributed/communicator.h"
#include "run/config.h"
#include "run/device_choice.h"

namespace diffuse {

struct TrainBenchOptions {
  std::string config;
  std::vector<std::string> overrides;
  int batch = 0;                                // 0 = the config's train.batch_size
  int steps = 5;                                // timed steps
  int warmup = 1;                               // untimed steps after the warm-up (trainer/warm_up.h)
  DeviceRequest device = DeviceRequest::kAuto;  // cpu | cuda | auto (cuda when a GPU is visible)
  bool profile = false;                         // time per op family (bench/profile_report.h)
};

// On one rank, with the config, the device and the communicator that the run session resolved
// (bench/distributed_bench.h). The timed steps start after the trainer's warm-up (trainer/warm_up.h) and
// options.warmup untimed steps.
void run_train_bench(const TrainBenchOptions& options, const Config& config, Device device, Communicator& communicator);

}  // namespace diffuse
