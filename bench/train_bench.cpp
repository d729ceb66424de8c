#include "bench/train_bench.h"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "bench/gemm_peak.h"
#include "core/allocator.h"
#include "core/ops.h"
#include "core/philox.h"
#include "trainer/model_setup.h"

namespace diffuse {

namespace {

int64_t peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

}  // namespace

void run_train_bench(const TrainBenchOptions& options) {
  const Config config = load_config(options.config, options.overrides);
  if (config.runtime.threads > 0) omp_set_num_threads(config.runtime.threads);
  const int batch = options.batch > 0 ? options.batch : config.train.batch_size;
  DIFFUSE_CHECK(options.steps > 0 && options.warmup >= 0, "bench needs --steps > 0 and --warmup >= 0");

  const model::UNetSpec spec = unet_spec(config.model);
  const DiffusionSetup setup = diffusion_setup(config);
  model::ParameterStore store;
  model::UNet unet(spec, store);
  store.finalize(Device::CPU);
  store.initialize(config.seed);
  const int64_t parameters = store.numel();
  Tensor adam_m = Tensor::zeros({parameters}), adam_v = Tensor::zeros({parameters});
  std::vector<Tensor> ema;
  for (size_t i = 0; i < config.train.ema_rates.size(); ++i) {
    ema.push_back(Tensor::empty({parameters}));
    copy(store.params(), ema.back());
  }

  // Synthetic images in [-1, 1] and labels: the step's cost does not depend on the data.
  MicroBatch micro;
  micro.images = Tensor::empty({batch, spec.image_size, spec.image_size, spec.image_channels});
  ops::fill_normal(micro.images, config.seed, kPurposeDataOrder, 0, 0);
  ops::clamp(micro.images, -1.0f, 1.0f, micro.images);
  if (spec.num_classes > 0) {
    micro.labels = Tensor::empty({batch}, DType::I32);
    for (int i = 0; i < batch; ++i) micro.labels.i32()[i] = i % spec.num_classes;
  }

  auto train_step = [&](int64_t step) {
    store.zero_grads();
    micro.step = static_cast<uint32_t>(step);
    train_micro_batch(unet, setup, config.seed, micro, 1.0f / batch);
    ops::AdamWStep adam;
    adam.step = step + 1;
    ops::adamw_update(store.params(), store.grads(), adam_m, adam_v, adam);
    for (size_t i = 0; i < ema.size(); ++i)
      ops::ema_update(ema[i], store.params(), static_cast<float>(config.train.ema_rates[i]));
  };

  for (int step = 0; step < options.warmup; ++step) train_step(step);
  std::vector<double> seconds;
  for (int step = 0; step < options.steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    train_step(options.warmup + step);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  const double gemm_gflops = measure_gemm_gflops();

  const double step_flops = 3.0 * 2.0 * unet.forward_macs_per_image() * batch;
  const double gflops = step_flops / median / 1e9;
  const double images_per_second = batch / median;
  const int64_t state_bytes = parameters * 4 * (4 + static_cast<int64_t>(ema.size()));  // params, grads, m, v, EMA
  const int64_t needed = unet.activation_bytes(batch) + state_bytes;
  const int64_t tensor_peak = allocator_for(Device::CPU).peak_bytes();
  const int64_t resident_peak = peak_resident_bytes();

  std::printf("bench train: %s, batch %d, %d threads, %lld parameters, %.3f GMACs/image forward\n",
              options.config.c_str(), batch, omp_get_max_threads(), static_cast<long long>(parameters),
              unet.forward_macs_per_image() / 1e9);
  std::printf("  step         %.3f s (median of %d; min %.3f, max %.3f)\n", median, options.steps, seconds.front(),
              seconds.back());
  std::printf("  throughput   %.1f img/s, %.1f GFLOP/s\n", images_per_second, gflops);
  std::printf("  GEMM peak    %.1f GFLOP/s (fp32 sgemm 1024^3, same threads)  ratio %.3f\n", gemm_gflops,
              gflops / gemm_gflops);
  std::printf("  memory       tensors peak %.1f MiB, process peak RSS %.1f MiB, needed %.1f MiB "
              "(activations %.1f + state %.1f)\n",
              tensor_peak / 1048576.0, resident_peak / 1048576.0, needed / 1048576.0,
              unet.activation_bytes(batch) / 1048576.0, state_bytes / 1048576.0);
  std::printf("{\"bench\": \"train\", \"config\": \"%s\", \"batch\": %d, \"threads\": %d, \"img_per_s\": %.3f, "
              "\"gflops\": %.3f, \"gemm_gflops\": %.3f, \"ratio\": %.4f, \"step_s\": %.5f, \"peak_mem_bytes\": %lld, "
              "\"peak_rss_bytes\": %lld, \"needed_mem_bytes\": %lld}\n",
              options.config.c_str(), batch, omp_get_max_threads(), images_per_second, gflops, gemm_gflops,
              gflops / gemm_gflops, median, static_cast<long long>(tensor_peak), static_cast<long long>(resident_peak),
              static_cast<long long>(needed));
}

}  // namespace diffuse
