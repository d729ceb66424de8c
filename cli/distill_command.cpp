#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "eval/fid_during_training.h"
#include "trainer/distiller.h"

namespace diffuse::cli {

void add_distill_command(CLI::App& app) {
  auto options = std::make_shared<DistillOptions>();
  CLI::App* command =
      app.add_subcommand("distill", "Progressive or consistency distillation: students that sample in fewer steps");
  command->add_option("--config", options->config_path, "YAML config with a distill section (configs/*distill.yaml)")
      ->required();
  command
      ->add_option(
          "--teacher", options->teacher,
          "Teacher checkpoint (progressive: cosine_continuous schedule, x0 or v, or edm; consistency: vp or edm)")
      ->required();
  command->add_option("--run-dir", options->run_dir, "Run directory: one stage-<k>-<N>steps/ training run per stage")
      ->required();
  command->add_option("--from", options->from_steps,
                      "The teacher's sampling steps (default: a distilled teacher's own, else distill.from_steps)");
  command->add_option("--to", options->to_steps, "The last student's sampling steps (default: distill.to_steps)");
  command
      ->add_option_function<std::string>(
          "--method",
          [options](const std::string& name) { options->method = value_named(kDistillMethodNames, name, "--method"); },
          "progressive (halving stages, the default) or consistency (one run; default: distill.method)")
      ->check(one_of_names(kDistillMethodNames));
  command->add_option("--resume", options->resume, "'auto': continue the newest stage from its newest checkpoint");
  command->add_option("--set", options->overrides, "Override a config key: --set distill.steps_per_stage=100");
  command->callback([options] { run_distillation(*options, eval::training_fid_evaluator); });
}

}  // namespace diffuse::cli
