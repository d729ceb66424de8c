#include "bench/train_bench.h"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <optional>
#include <string>

#include "bench/bench_model.h"
#include "bench/gemm_peak.h"
#include "bench/profile_report.h"
#include "core/allocator.h"
#include "core/gpu_peaks.h"
#include "core/log.h"
#include "core/matmul_precision.h"
#include "core/op_profile.h"
#include "io/json.h"
#include "run/precision.h"
#include "trainer/warm_up.h"

#if DIFFUSE_HAS_CUDA
#include "core/cuda/runtime.h"
#endif

namespace diffuse {

namespace {

int64_t peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

void wait_for(Device device) {
#if DIFFUSE_HAS_CUDA
  if (device == Device::CUDA) cuda::synchronize();
#else
  (void)device;
#endif
}

}  // namespace

void run_train_bench(const TrainBenchOptions& options, const Config& config, Device device,
                     Communicator& communicator) {
  const int batch = options.batch > 0 ? options.batch : config.train.batch_size;
  DIFFUSE_CHECK(options.steps > 0 && options.warmup >= 0, "bench needs --steps > 0 and --warmup >= 0");
  BenchModel bench(config, device, batch, 0);
  const model::UNet& unet = bench.unet;
  const int64_t parameters = bench.store.numel();

  auto train_step = [&](int64_t step) {
    bench.store.zero_grads();
    bench.micro.step = static_cast<uint32_t>(step);
    bench.forward_backward();
    bench.update(step + 1);
    wait_for(device);  // the GPU runs ahead of the host: a step ends when its work does
  };

  const double warm_up_seconds = warm_up(bench.store, communicator, [&] { bench.forward_backward(); });
  for (int step = 0; step < options.warmup; ++step) train_step(step);
  if (options.profile) {
    reset_op_profile();
    set_op_profiling(true);
  }
  std::vector<double> seconds;
  // Both CPU yardsticks, sampled side by side; the ratio divides by the one of the type the products multiply in.
  GemmYardstick fp32_yardstick(DType::F32);
  std::optional<GemmYardstick> bf16_yardstick;
  if (device == Device::CPU && cpu_multiplies_natively(DType::BF16)) bf16_yardstick.emplace(DType::BF16);
  for (int step = 0; step < options.steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    train_step(options.warmup + step);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (options.profile) settle_op_profile();  // GPU op times, read once per step, outside its timing
    if (device == Device::CPU) {
      fp32_yardstick.sample();
      if (bf16_yardstick) bf16_yardstick->sample();
    }
  }
  set_op_profiling(false);
  const double mean = std::accumulate(seconds.begin(), seconds.end(), 0.0) / seconds.size();
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];

  // The yardstick: the CPU's measured GEMM rate in the type the run computes in, or the GPU's dense bf16 peak.
  std::string device_label = "cpu";
  std::optional<GpuPeak> peak;
  double yardstick_gflops = 0.0;
  const double bf16_gemm_gflops = bf16_yardstick ? bf16_yardstick->median_gflops() : 0.0;
  const bool bf16_yardstick_used = bf16_yardstick && bench.precision.compute == DType::BF16;
  int64_t reserved_peak = 0;
  if (device == Device::CPU) {
    yardstick_gflops = bf16_yardstick_used ? bf16_gemm_gflops : fp32_yardstick.median_gflops();
  } else {
#if DIFFUSE_HAS_CUDA
    device_label = cuda::device_name();
    peak = gpu_peak(device_label);
    if (peak) yardstick_gflops = peak->dense_bf16_tflops * 1000.0;
    reserved_peak = cuda::reserved_peak_bytes();
#endif
  }

  const double step_flops = 3.0 * 2.0 * unet.forward_macs_per_image() * batch;
  const double gflops = step_flops / median / 1e9;
  const double ratio = yardstick_gflops > 0 ? gflops / yardstick_gflops : 0.0;
  const double images_per_second = batch / median;
  // params, grads, m, v, EMA, and the weights' compute copy in bf16 or fp16
  const Tensor& compute_copy = bench.store.compute_params();
  const int64_t state_bytes = parameters * 4 * (4 + static_cast<int64_t>(bench.optimizer->emas().size())) +
                              (compute_copy.defined() ? static_cast<int64_t>(compute_copy.nbytes()) : 0);
  const int64_t needed = unet.activation_bytes(batch) + state_bytes;
  const int64_t tensor_peak = allocator_for(device).peak_bytes();
  const int64_t resident_peak = peak_resident_bytes();

  std::printf("bench train: %s, batch %d, %s, precision %s, %d threads, %lld parameters, %.3f GMACs/image forward\n",
              options.config.c_str(), batch, device_label.c_str(), precision_name(config.train.precision),
              omp_get_max_threads(), static_cast<long long>(parameters), unet.forward_macs_per_image() / 1e9);
  std::printf("  step         %.3f s (median of %d; min %.3f, max %.3f)\n", median, options.steps, seconds.front(),
              seconds.back());
  std::printf("  untimed      warm-up forward and backward %.3f s, then %d step(s)\n", warm_up_seconds, options.warmup);
  std::printf("  throughput   %.1f img/s, %.1f GFLOP/s\n", images_per_second, gflops);
  if (device == Device::CPU) {
    std::printf("  GEMM peak    fp32 %.1f GFLOP/s", fp32_yardstick.median_gflops());
    if (bf16_yardstick) {
      std::printf(", bf16 %.1f GFLOP/s", bf16_gemm_gflops);
    } else {
      std::printf(", bf16 absent (this CPU has no AVX512-BF16 or AMX)");
    }
    std::printf(" (1024^3, same threads, median of one after each step)\n");
    std::printf("  ratio        %.3f of the %s GEMM peak (the type this run's products multiply in)\n", ratio,
                bf16_yardstick_used ? "bf16" : "fp32");
  } else if (yardstick_gflops > 0) {
    std::printf("  MFU          %.3f of %.0f TFLOP/s (dense bf16 peak of the %s datasheet, for %s)\n", ratio,
                yardstick_gflops / 1000, peak->model.c_str(), device_label.c_str());
  } else {
    std::printf("  MFU          n/a (no peak known for %s)\n", device_label.c_str());
  }
  std::printf(
      "  memory       tensors peak %.1f MiB, %s %.1f MiB, needed %.1f MiB "
      "(activations %.1f + state %.1f)\n",
      tensor_peak / 1048576.0, device == Device::CPU ? "process peak RSS" : "GPU pool peak",
      (device == Device::CPU ? resident_peak : reserved_peak) / 1048576.0, needed / 1048576.0,
      unet.activation_bytes(batch) / 1048576.0, state_bytes / 1048576.0);
  if (options.profile) print_op_profile(options.steps, mean, "step");
  // gemm_gflops: the fp32 yardstick on the CPU (whichever the ratio used), the datasheet peak on a GPU.
  const double gemm_gflops = device == Device::CPU ? fp32_yardstick.median_gflops() : yardstick_gflops;
  const char* ratio_yardstick = device != Device::CPU ? "gpu_peak" : bf16_yardstick_used ? "bf16_gemm" : "fp32_gemm";
  const Json summary = {{"bench", "train"},
                        {"config", options.config},
                        {"device", device_label},
                        {"precision", precision_name(config.train.precision)},
                        {"batch", batch},
                        {"threads", omp_get_max_threads()},
                        {"img_per_s", round_to_decimals(images_per_second, 3)},
                        {"gflops", round_to_decimals(gflops, 3)},
                        {"gemm_gflops", round_to_decimals(gemm_gflops, 3)},
                        {"bf16_gemm_gflops", round_to_decimals(bf16_gemm_gflops, 3)},
                        {"ratio_yardstick", ratio_yardstick},
                        {"ratio", round_to_decimals(ratio, 4)},
                        {"mfu", round_to_decimals(device == Device::CPU ? 0.0 : ratio, 4)},
                        {"mfu_peak", peak ? peak->model : ""},
                        {"step_s", round_to_decimals(median, 5)},
                        {"warmup_s", round_to_decimals(warm_up_seconds, 5)},
                        {"peak_mem_bytes", tensor_peak},
                        {"peak_rss_bytes", resident_peak},
                        {"gpu_pool_peak_bytes", reserved_peak},
                        {"needed_mem_bytes", needed}};
  std::printf("%s\n", json_line(summary).c_str());
}

}  // namespace diffuse
