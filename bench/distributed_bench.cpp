// The multi-rank training benchmark: overlapped steps, a one-rank baseline and
// the all-reduce alone, each timed as the median over --steps.
#include "bench/distributed_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <utility>
#include <vector>

#include "bench/bench_model.h"
#include "bench/gemm_peak.h"
#include "core/log.h"
#include "distributed/communicator.h"
#include "distributed/gradient_reducer.h"
#include "io/json.h"
#include "run/precision.h"
#include "run/run_session.h"
#include "trainer/warm_up.h"

namespace diffuse {

namespace {

double seconds_of(const std::function<void()>& body) {
  const auto start = std::chrono::steady_clock::now();
  body();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Per step, the largest (or smallest) of the ranks' times; then the median over steps.
double median_over_ranks(Communicator& world, const std::vector<double>& seconds, bool largest) {
  const auto steps = static_cast<int64_t>(seconds.size());
  Tensor mine = Tensor::empty({steps});
  for (int64_t i = 0; i < steps; ++i) mine.f32()[i] = static_cast<float>(seconds[static_cast<size_t>(i)]);
  Tensor all = Tensor::empty({steps * world.size()});
  world.all_gather(mine, all);
  std::vector<double> per_step;
  for (int64_t i = 0; i < steps; ++i) {
    double chosen = all.f32()[i];
    for (int rank = 1; rank < world.size(); ++rank) {
      const double value = all.f32()[rank * steps + i];
      chosen = largest ? std::max(chosen, value) : std::min(chosen, value);
    }
    per_step.push_back(chosen);
  }
  return median_of(per_step);
}

}  // namespace

void run_train_bench_on_every_rank(const TrainBenchOptions& options) {
  Config loaded = load_config(options.config, options.overrides);
  loaded.runtime.device = options.device;  // the bench's own device setting, not the config's
  RunSession session(std::move(loaded), "bench --device", SessionKind::kHostCollectives);
  const Config& config = session.config();
  Communicator& world = session.communicator();
  const int ranks = world.size(), rank = world.rank();
  const ThreadChoice& threads = session.threads();
  if (ranks == 1) {
    run_train_bench(options, config, session.device(), world);
    return;
  }
  DIFFUSE_CHECK(options.device != DeviceRequest::kCuda, "bench on several ranks runs on the CPU backend (MPI)");
  DIFFUSE_CHECK(options.steps > 0 && options.warmup >= 0, "bench needs --steps > 0 and --warmup >= 0");
  const int batch = options.batch > 0 ? options.batch : config.train.batch_size;
  DIFFUSE_CHECK(batch % ranks == 0, "bench --batch ", batch, " is not divisible by ", ranks, " ranks");
  const int local_batch = batch / ranks;
  if (rank == 0) log_info("computing with ", threads.threads, " thread(s) per rank (", threads.reason, ")");

  BenchModel bench(config, Device::CPU, local_batch, static_cast<uint32_t>(rank * local_batch), batch);
  world.broadcast(bench.store.params(), 0);
  GradientReducer reducer(bench.store, world, config.train.bucket_mb, config.train.reduce_dtype);

  // One step: forward, backward (reducing gradients when `reduce`), AdamW.
  int64_t step = 0;
  double exposed = 0.0;
  const auto train_step = [&](bool reduce) {
    bench.store.zero_grads();
    bench.micro.step = static_cast<uint32_t>(step);
    if (reduce) reducer.arm();
    bench.forward_backward();
    exposed = reduce ? reducer.finish() : 0.0;
    bench.update(++step);
  };

  // The reducer is not armed: the warm-up reduces no bucket.
  const double warm_up_seconds = warm_up(bench.store, world, [&] { bench.forward_backward(); });
  for (int i = 0; i < options.warmup; ++i) train_step(true);
  std::vector<double> step_seconds, exposed_seconds, reduce_seconds, alone_seconds;
  for (int i = 0; i < options.steps; ++i) {
    world.barrier();
    step_seconds.push_back(seconds_of([&] { train_step(true); }));
    exposed_seconds.push_back(exposed);
  }
  // The same reductions with nothing to hide behind: all buckets started at once, then waited for.
  for (int i = 0; i < options.steps; ++i) {
    world.barrier();
    reducer.arm();
    reduce_seconds.push_back(reducer.finish());
  }
  // One rank with the same per-rank batch and threads: rank 0 alone, the others waiting.
  if (rank == 0)
    for (int i = 0; i < options.steps; ++i) alone_seconds.push_back(seconds_of([&] { train_step(false); }));
  world.barrier();

  // A step lasts as long as its slowest rank. The rank that finished backward last waits only for
  // communication that backward did not hide; the others' waits also hold their lead over it.
  const double step_s = median_over_ranks(world, step_seconds, true);
  const double exposed_s = median_over_ranks(world, exposed_seconds, false);
  const double reduce_s = median_over_ranks(world, reduce_seconds, true);
  if (rank != 0) return;
  const double alone_s = median_of(alone_seconds);
  const double hidden = reduce_s > 0 ? std::clamp(1.0 - exposed_s / reduce_s, 0.0, 1.0) : 1.0;
  const double scaling = alone_s / step_s;
  const double images_per_second = batch / step_s;
  std::printf(
      "bench train: %s, %d ranks x batch %d (global %d), precision %s, %d thread(s) per rank, %lld parameters, "
      "%zu gradient buckets sent as %s\n",
      options.config.c_str(), ranks, local_batch, batch, precision_name(config.train.precision), threads.threads,
      static_cast<long long>(bench.store.numel()), reducer.buckets().size(),
      name_of(kReduceDTypeNames, config.train.reduce_dtype));
  std::printf("  step         %.3f s on %d ranks, %.3f s on one rank with the same per-rank batch (medians of %d)\n",
              step_s, ranks, alone_s, options.steps);
  std::printf("  untimed      warm-up forward and backward %.3f s (rank 0), then %d step(s)\n", warm_up_seconds,
              options.warmup);
  std::printf("  scaling      %.3f (one-rank step / %d-rank step); %.1f img/s over all ranks\n", scaling, ranks,
              images_per_second);
  std::printf("  all-reduce   %.4f s per step on its own; %.4f s of it not hidden behind backward: %.0f%% hidden\n",
              reduce_s, exposed_s, 100.0 * hidden);
  const Json summary = {{"bench", "train"},
                        {"config", options.config},
                        {"ranks", ranks},
                        {"batch", batch},
                        {"batch_per_rank", local_batch},
                        {"precision", precision_name(config.train.precision)},
                        {"threads", threads.threads},
                        {"reduce_dtype", name_of(kReduceDTypeNames, config.train.reduce_dtype)},
                        {"img_per_s", round_to_decimals(images_per_second, 3)},
                        {"step_s", round_to_decimals(step_s, 5)},
                        {"warmup_s", round_to_decimals(warm_up_seconds, 5)},
                        {"step_s_one_rank", round_to_decimals(alone_s, 5)},
                        {"scaling", round_to_decimals(scaling, 4)},
                        {"allreduce_s", round_to_decimals(reduce_s, 5)},
                        {"allreduce_exposed_s", round_to_decimals(exposed_s, 5)},
                        {"allreduce_hidden_share", round_to_decimals(hidden, 4)}};
  std::printf("%s\n", json_line(summary).c_str());
}

}  // namespace diffuse
