#include <string>
#include <vector>

#include "cli/commands.h"
#include "eval/fid_during_training.h"
#include "trainer/trainer.h"

namespace diffuse::cli {

namespace {
struct TrainArguments {
  std::string config;
  std::string run_dir;
  std::string resume;
  std::vector<std::string> overrides;
};
}  // namespace

void add_train_command(CLI::App& app) {
  auto arguments = std::make_shared<TrainArguments>();
  CLI::App* command = app.add_subcommand("train", "Train a diffusion model");
  command->add_option("--config", arguments->config, "YAML config (configs/*.yaml)")->required();
  command
      ->add_option("--run-dir", arguments->run_dir,
                   "Run directory: config.yaml, metrics.jsonl, samples/, "
                   "checkpoints/")
      ->required();
  command->add_option("--resume", arguments->resume,
                      "'auto' (the newest checkpoint in the run directory, if any) or a checkpoint path");
  command->add_option("--set", arguments->overrides, "Override a config key: --set train.steps=100 (repeatable)");
  command->callback([arguments] {
    run_training(arguments->config, arguments->overrides, arguments->run_dir, arguments->resume,
                 eval::training_fid_evaluator);
  });
}

}  // namespace diffuse::cli
