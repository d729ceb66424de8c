#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/dataset_writer.h"
#include "io/image_grid.h"
#include "io/output_path.h"
#include "run/checkpoint_model.h"
#include "run/device_choice.h"
#include "run/model_setup.h"
#include "run/sampling.h"

namespace diffuse::cli {

namespace {

struct SampleArguments {
  std::string checkpoint;
  std::string ema = "first";
  std::string sampler;       // absent: consistency for consistency models, else ddim
  std::optional<int> steps;  // absent: the student's sampling_steps, else the config's
  // Absent: the checkpoint's sample section (and its seed).
  std::optional<double> eta;
  std::optional<int> label;  // absent: all classes
  std::optional<double> guidance;
  int count = 64;
  int batch = 64;
  std::optional<uint64_t> seed;
  std::string out;
  std::string device = "auto";
};

void run_sample(const SampleArguments& arguments) {
  // Everything about the output is checked before the checkpoint loads: sampling can take minutes.
  const bool to_png = check_output_path(arguments.out, "--out", {".png", ".h5"}) == ".png";
  DIFFUSE_CHECK(!std::filesystem::exists(arguments.out), "--out ", arguments.out,
                " already exists; it is not overwritten");
  const DeviceChoice device = choose_device(value_named(kDeviceRequestNames, arguments.device, "--device"), "--device");
  log_info("sampling on ", device.description);
  const std::unique_ptr<CheckpointModel> loaded =
      load_checkpoint_model(arguments.checkpoint, arguments.ema, device.device);
  const Config& config = loaded->config;
  const CheckpointMeta& meta = loaded->meta;
  const model::UNetSpec& spec = loaded->spec;
  model::UNet& unet = *loaded->unet;

  const int classes = spec.num_classes;
  const Tensor labels = command_sample_labels(classes, arguments.count, arguments.label);
  DIFFUSE_CHECK(arguments.guidance.value_or(0.0) == 0.0 || classes > 0, "--guidance needs a class-conditional model");
  const SamplerKind sampler = command_sampler(arguments.sampler, config, meta);
  const SamplingFlags flags{sampler, arguments.steps, arguments.eta, arguments.guidance, arguments.seed};
  const SamplerOptions options = sampler_options(config, flags, meta.sampling_steps);
  ProgressLine progress("sampling", arguments.count);
  const Tensor images = sample_with_model(unet, spec, diffusion_setup(config), options, labels, arguments.count,
                                          arguments.batch, [&](int64_t done) { progress.update(done); });
  if (to_png) {
    const int columns = classes > 0 && !arguments.label ? std::max(1, arguments.count / classes)
                                                        : static_cast<int>(std::ceil(std::sqrt(arguments.count)));
    write_png_grid(arguments.out, images, columns);
  } else {
    write_image_dataset(arguments.out, images, labels, classes, "diffuse sample", Overwrite::Refuse);
  }
  log_info("wrote ", arguments.count, " samples (", name_of(kSamplerNames, sampler), ", ", options.steps,
           " steps, NFE ", network_evaluations(sampler, options.steps), ") to ", arguments.out);
}

}  // namespace

void add_sample_command(CLI::App& app) {
  auto arguments = std::make_shared<SampleArguments>();
  CLI::App* command = app.add_subcommand("sample", "Sample images from a checkpoint");
  command->add_option("--ckpt", arguments->checkpoint, "Checkpoint (.h5)")->required()->check(CLI::ExistingFile);
  command->add_option("--ema", arguments->ema,
                      "EMA rate whose weights to use, 'none' for the raw weights "
                      "(default: the checkpoint's first EMA rate)");
  command
      ->add_option("--sampler", arguments->sampler,
                   "ddpm (ancestral), ddim, the ODE solvers euler, heun, dpmpp_2m, or consistency (default: "
                   "consistency for consistency models, else the checkpoint's sample.sampler)")
      ->check(one_of_names(kSamplerNames));
  command->add_option("--steps", arguments->steps, "Sampling steps (default: a student's own, else the config's)")
      ->check(at_least(1));
  command
      ->add_option("--eta", arguments->eta,
                   "DDIM eta (0 = deterministic; ddim only; default: the checkpoint's sample.eta)")
      ->check(finite_number());
  command->add_option("--class", arguments->label, "Sample only this class (default: all classes in turn)");
  command
      ->add_option("--guidance", arguments->guidance,
                   "Classifier-free guidance weight w (default: the checkpoint's sample.guidance)")
      ->check(finite_number());
  command->add_option("--n", arguments->count, "Number of samples")->check(at_least(1));
  command->add_option("--batch", arguments->batch, "Samples per forward pass")->check(at_least(1));
  command->add_option("--seed", arguments->seed, "Sampling seed (default: the checkpoint's seed)");
  command->add_option("--out", arguments->out, "Output: grid.png or samples.h5")->required();
  command->add_option("--device", arguments->device, "cpu, cuda, or auto (the GPU when there is one)")
      ->capture_default_str();
  command->callback([arguments] { run_sample(*arguments); });
}

}  // namespace diffuse::cli
