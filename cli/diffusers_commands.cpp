// `diffuse export --format diffusers` and `diffuse import`: models to and from Hugging Face diffusers.
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "run/diffusers_transfer.h"

namespace diffuse::cli {

namespace {

struct ExportArguments {
  std::string checkpoint;
  std::string ema = "first";
  std::string format;
  std::string out;
};

struct ImportArguments {
  std::string from;
  std::string config;
  std::vector<std::string> overrides;
  std::string out;
};

}  // namespace

void add_export_command(CLI::App& app) {
  auto arguments = std::make_shared<ExportArguments>();
  CLI::App* command = app.add_subcommand("export", "Write a checkpoint's model in another library's format");
  command->add_option("--ckpt", arguments->checkpoint, "Checkpoint (.h5)")->required()->check(CLI::ExistingFile);
  command->add_option("--ema", arguments->ema,
                      "EMA rate whose weights to export, 'none' for the raw weights "
                      "(default: the checkpoint's first EMA rate)");
  command->add_option("--format", arguments->format, "Output format: diffusers (a UNet2DModel directory)")
      ->required()
      ->check(CLI::IsMember({"diffusers"}));
  command->add_option("--out", arguments->out, "Output directory (must not exist or be empty)")->required();
  command->callback([arguments] { export_diffusers(arguments->checkpoint, arguments->ema, arguments->out); });
}

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
