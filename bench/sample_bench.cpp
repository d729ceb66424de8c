#include "bench/sample_bench.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>

#include "bench/gemm_peak.h"
#include "bench/profile_report.h"
#include "core/allocator.h"
#include "core/op_profile.h"
#include "io/json.h"
#include "model/parameters.h"
#include "model/unet.h"
#include "run/model_setup.h"
#include "run/sampling.h"

namespace diffuse {

void run_sample_bench(const SampleBenchOptions& options) {
  const Config config = load_config(options.config, options.overrides);
  DIFFUSE_CHECK(options.batch > 0 && options.steps > 0 && options.repeats > 0,
                "bench sample needs --batch, --steps and --repeats > 0");
  const model::UNetSpec spec = unet_spec(config.model);
  DIFFUSE_CHECK(options.guidance == 0.0 || spec.num_classes > 0, "--guidance needs a class-conditional model");
  const DiffusionSetup setup = diffusion_setup(config);
  model::ParameterStore store;
  model::UNet unet(spec, store);
  store.finalize(Device::CPU);
  store.initialize(config.seed);
  // Classes cycling over the batch, as evaluation draws them; none for unconditional models.
  const Tensor batch_labels =
      sample_labels(LabelOrder::kInterleaved, spec.num_classes, options.batch, 0, options.batch);

  // Deterministic (eta 0) whatever the config says, so that every sampler is timed on the same work.
  const SamplerOptions sampler = sampler_options(
      config, {value_named(kSamplerNames, options.sampler, "--sampler"), options.steps, 0.0, options.guidance, {}});
  const auto draw = [&](int steps) {
    SamplerOptions run = sampler;
    run.steps = steps;
    return sample_with_model(unet, spec, setup, run, batch_labels, options.batch, options.batch);
  };
  draw(1);  // untimed: first-touch allocations and caches

  if (options.profile) {
    reset_op_profile();
    set_op_profiling(true);
  }
  std::vector<double> seconds;
  GemmYardstick yardstick;
  for (int repeat = 0; repeat < options.repeats; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    draw(options.steps);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (options.profile) settle_op_profile();  // GPU op times, read once per batch, outside its timing
    yardstick.sample();
  }
  set_op_profiling(false);
  const double mean = std::accumulate(seconds.begin(), seconds.end(), 0.0) / seconds.size();
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];

  const double gemm_gflops = yardstick.median_gflops();
  const int nfe = network_evaluations(sampler.sampler, options.steps);
  const int evaluations = nfe * (options.guidance > 0 ? 2 : 1);
  const double flops = 2.0 * unet.forward_macs_per_image() * options.batch * evaluations;
  const double gflops = flops / median / 1e9;
  const double ratio = gflops / gemm_gflops;
  const double images_per_second = options.batch / median;
  const int64_t tensor_peak = allocator_for(Device::CPU).peak_bytes();
  const int64_t weights = store.numel() * 4;

  std::printf("bench sample: %s, batch %d, %s %d steps (NFE %d)%s, %d threads, %.3f GMACs/image forward\n",
              options.config.c_str(), options.batch, options.sampler.c_str(), options.steps, nfe,
              options.guidance > 0 ? " with guidance" : "", omp_get_max_threads(), unet.forward_macs_per_image() / 1e9);
  std::printf("  batch        %.2f s (median of %d; min %.2f, max %.2f)\n", median, options.repeats, seconds.front(),
              seconds.back());
  std::printf("  throughput   %.2f img/s, %.1f network evaluations/s, %.1f GFLOP/s\n", images_per_second,
              images_per_second * evaluations, gflops);
  std::printf(
      "  GEMM peak    %.1f GFLOP/s (fp32 sgemm 1024^3, same threads, median of one after each batch)  ratio %.3f\n",
      gemm_gflops, ratio);
  std::printf("  memory       tensors peak %.1f MiB (weights %.1f MiB)\n", tensor_peak / 1048576.0,
              weights / 1048576.0);
  if (options.profile) print_op_profile(options.repeats, mean, "batch");
  const Json summary = {{"bench", "sample"},
                        {"config", options.config},
                        {"batch", options.batch},
                        {"sampler", options.sampler},
                        {"steps", options.steps},
                        {"nfe", nfe},
                        {"guidance", round_to_decimals(options.guidance, 3)},
                        {"threads", omp_get_max_threads()},
                        {"img_per_s", round_to_decimals(images_per_second, 4)},
                        {"gflops", round_to_decimals(gflops, 3)},
                        {"gemm_gflops", round_to_decimals(gemm_gflops, 3)},
                        {"ratio", round_to_decimals(ratio, 4)},
                        {"batch_s", round_to_decimals(median, 4)},
                        {"peak_mem_bytes", tensor_peak}};
  std::printf("%s\n", json_line(summary).c_str());
}

}  // namespace diffuse
