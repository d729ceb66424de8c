// `diffuse eval`: its flags; the evaluation itself is eval/run_eval.h.
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "diffusion/sampler.h"
#include "eval/run_eval.h"

namespace diffuse::cli {

void add_eval_command(CLI::App& app) {
  auto arguments = std::make_shared<eval::EvalOptions>();
  CLI::App* command = app.add_subcommand("eval", "FID, KID and precision/recall of samples against a reference set");
  command->add_option("--ckpt", arguments->checkpoint, "Checkpoint to sample (.h5)")->check(CLI::ExistingFile);
  command
      ->add_option("--images", arguments->images,
                   "Images to evaluate instead (dataset .h5, e.g. from "
                   "`diffuse sample --out x.h5`)")
      ->check(CLI::ExistingFile);
  command->add_option("--ref", arguments->reference, "Reference dataset (.h5); statistics are cached beside it")
      ->check(CLI::ExistingFile);
  command
      ->add_option("--ref-stats", arguments->reference_stats,
                   "Published reference statistics instead (.npz with mu and sigma, as pytorch-fid saves them): "
                   "FID only")
      ->check(CLI::ExistingFile);
  command
      ->add_option("--features", arguments->features,
                   "Feature network file (train-classifier or converted "
                   "Inception)")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--out", arguments->out, "JSON report to write (.json)")->required();
  command
      ->add_option("--n", arguments->count,
                   "Samples to generate (default " + std::to_string(eval::kDefaultSampleCount) +
                       "), or with --images the first N images (default all)")
      ->check(at_least(1));
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
  command->add_option("--eta", arguments->eta, "DDIM eta (0 = deterministic; default: the checkpoint's sample.eta)")
      ->check(finite_number());
  command
      ->add_option("--guidance", arguments->guidance,
                   "Classifier-free guidance weight w (default: the checkpoint's sample.guidance)")
      ->check(finite_number());
  command->add_option("--batch", arguments->batch, "Images per forward pass")
      ->capture_default_str()
      ->check(at_least(1));
  command->add_option("--seed", arguments->seed, "Sampling seed (default: the checkpoint's seed)");
  command->add_option("--device", arguments->device, "Where to sample: cpu, cuda, or auto (the GPU when there is one)")
      ->capture_default_str();
  command->add_option("--save-samples", arguments->save_samples,
                      "Also write the samples (8-bit, as evaluated) to this dataset file (.h5), for `eval --images`");
  command->add_option("--kid-subsets", arguments->kid_subsets, "KID subsets")
      ->capture_default_str()
      ->check(at_least(1));
  command->add_option("--kid-subset-size", arguments->kid_subset_size, "KID subset size")
      ->capture_default_str()
      ->check(at_least(2));
  command->callback([arguments] { eval::run_eval(*arguments); });
}

}  // namespace diffuse::cli
