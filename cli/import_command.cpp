// `diffuse import`: a checkpoint from a Hugging Face diffusers UNet2DModel directory.
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "run/diffusers_transfer.h"

namespace diffuse::cli {

namespace {

struct ImportArguments {
  std::string from;
  std::string config;
  std::vector<std::string> overrides;
  std::string out;
};

}  // namespace

void add_import_command(CLI::App& app) {
  auto arguments = std::make_shared<ImportArguments>();
  CLI::App* command = app.add_subcommand("import", "Make a checkpoint from a diffusers UNet2DModel directory");
  command->add_option("--from", arguments->from, "diffusers model directory (config.json, .safetensors weights)")
      ->required()
      ->check(CLI::ExistingDirectory);
  command->add_option("--config", arguments->config, "YAML config whose model the directory must hold")->required();
  command->add_option("--set", arguments->overrides, "Override a config key: --set model.channels=64 (repeatable)");
  command->add_option("--out", arguments->out, "Checkpoint to write (.h5, must not exist)")->required();
  command->callback(
      [arguments] { import_diffusers(arguments->from, arguments->config, arguments->overrides, arguments->out); });
}

}  // namespace diffuse::cli
