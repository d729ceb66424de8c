#include <memory>

#include "bench/distributed_bench.h"
#include "launch/commands.h"

namespace diffuse::cli {

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Measure throughput against the machine's GEMM peak");
  bench->require_subcommand(1);
  auto options = std::make_shared<TrainBenchOptions>();
  CLI::App* train = bench->add_subcommand("train", "Full training steps on synthetic data");
  train->add_option("--config", options->config, "YAML config")->required()->check(CLI::ExistingFile);
  train->add_option("--batch", options->batch, "Batch size (default: the config's train.batch_size)");
  train->add_option("--steps", options->steps, "Timed steps (the median is reported)");
  train->add_option("--warmup", options->warmup, "Untimed steps first");
  train->add_option("--set", options->overrides, "Override a config key (repeatable)");
  train->callback([options] { run_train_bench_on_every_rank(*options); });
}

}  // namespace diffuse::cli
