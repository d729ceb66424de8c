#include <memory>

#include "bench/distributed_bench.h"
#include "bench/sample_bench.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "diffusion/sampler.h"

namespace diffuse::cli {

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Measure throughput against the machine's GEMM peak");
  bench->require_subcommand(1);
  auto options = std::make_shared<TrainBenchOptions>();
  CLI::App* train = bench->add_subcommand("train", "Full training steps on synthetic data");
  train->add_option("--config", options->config, "YAML config")->required()->check(CLI::ExistingFile);
  train->add_option("--batch", options->batch, "Batch size (default: the config's train.batch_size)");
  train->add_option("--steps", options->steps, "Timed steps (the median is reported)");
  train->add_option("--warmup", options->warmup, "Untimed steps after the warm-up forward and backward");
  train->add_option("--set", options->overrides, "Override a config key (repeatable)");
  train->add_flag("--profile", options->profile, "Print the time per op family, forward and backward");
  train->callback([options] { run_train_bench_on_every_rank(*options); });

  auto sample_options = std::make_shared<SampleBenchOptions>();
  CLI::App* sample = bench->add_subcommand("sample", "Sampling throughput (inference only)");
  sample->add_option("--config", sample_options->config, "YAML config")->required()->check(CLI::ExistingFile);
  sample->add_option("--batch", sample_options->batch, "Images sampled together (default 256)");
  sample->add_option("--sampler", sample_options->sampler, "ddpm, ddim (default), euler, heun, dpmpp_2m or consistency")
      ->check(one_of_names(kSamplerNames));
  sample->add_option("--steps", sample_options->steps, "Sampler steps (default 50)");
  sample->add_option("--repeats", sample_options->repeats, "Timed batches (the median is reported)");
  sample->add_option("--guidance", sample_options->guidance, "Classifier-free guidance weight (doubles the work)")
      ->check(finite_number());
  sample->add_option("--set", sample_options->overrides, "Override a config key (repeatable)");
  sample->add_flag("--profile", sample_options->profile, "Print the time per op family");
  sample->callback([sample_options] { run_sample_bench(*sample_options); });
}

}  // namespace diffuse::cli
