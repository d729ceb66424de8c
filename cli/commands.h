// Registration of the CLI's subcommands; each runs when parsed.
#pragma once

#include <CLI/CLI.hpp>

namespace diffuse::cli {

// `diffuse info`: the build, the devices this process sees and the libraries it runs with.
void add_info_command(CLI::App& app);

// `diffuse prepare fashion-mnist|idx|cifar10|folder`: convert datasets to diffuse's HDF5 format.
void add_prepare_command(CLI::App& app);

// `diffuse train`: train a model from a config, resuming with --resume.
void add_train_command(CLI::App& app);

// `diffuse sample`: draw images from a checkpoint into a PNG grid or an HDF5 dataset.
void add_sample_command(CLI::App& app);

// `diffuse distill`: progressive distillation of a teacher checkpoint (trainer/distiller.h).
void add_distill_command(CLI::App& app);

// `diffuse eval`: FID, KID and precision/recall of a checkpoint's samples (or of an image set) against a reference.
void add_eval_command(CLI::App& app);

// `diffuse train-classifier`: train the evaluation classifier and write it as a feature network file.
void add_train_classifier_command(CLI::App& app);

// `diffuse export --format diffusers`: a checkpoint's model as a Hugging Face diffusers UNet2DModel directory.
void add_export_command(CLI::App& app);

// `diffuse import`: a checkpoint at step 0 from a diffusers UNet2DModel directory.
void add_import_command(CLI::App& app);

// `diffuse bench train`: throughput and memory against the machine's GEMM peak.
void add_bench_command(CLI::App& app);

}  // namespace diffuse::cli
