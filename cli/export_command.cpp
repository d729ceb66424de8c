// `diffuse export --format diffusers`: a checkpoint's model as a Hugging Face diffusers UNet2DModel directory.
#include <memory>
#include <string>

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

}  // namespace diffuse::cli
