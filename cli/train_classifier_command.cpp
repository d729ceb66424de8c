// `diffuse train-classifier`: trains the evaluation classifier on a labelled
// dataset and writes it as a feature network file for `diffuse eval`.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "eval/classifier_training.h"
#include "run/run_session.h"

namespace diffuse::cli {

namespace {

void run_train_classifier(const eval::ClassifierTrainingOptions& options, const std::vector<int>& channels) {
  eval::ClassifierTrainingOptions resolved = options;
  if (!channels.empty()) resolved.spec.channels = channels;
  // The classifier trains on the CPU.
  RuntimeConfig runtime;
  runtime.device = DeviceRequest::kCpu;
  RunSession session(runtime, "runtime.device", SessionKind::kHostCollectives);
  const eval::ClassifierTrainingResult result = eval::train_classifier(resolved, session.communicator());
  if (session.rank() == 0) {
    std::printf("classifier: test accuracy %.4f after %lld steps in %.0f s; wrote %s\n", result.test_accuracy,
                static_cast<long long>(result.steps), result.seconds, resolved.out_path.c_str());
    std::fflush(stdout);
  }
}

}  // namespace

void add_train_classifier_command(CLI::App& app) {
  auto options = std::make_shared<eval::ClassifierTrainingOptions>();
  auto channels = std::make_shared<std::vector<int>>();
  CLI::App* command = app.add_subcommand(
      "train-classifier", "Train the evaluation classifier; its penultimate activations are eval's features");
  command->add_option("--data", options->train_path, "Labelled training set (.h5)")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--test", options->test_path, "Labelled test set (.h5) for the reported accuracy")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--out", options->out_path, "Feature network file to write (.h5)")->required();
  command->add_option("--epochs", options->epochs, "Passes over the training set")->capture_default_str();
  command->add_option("--batch", options->batch_size, "Global batch size")->capture_default_str();
  command->add_option("--lr", options->lr, "Peak AdamW learning rate")->capture_default_str()->check(finite_number());
  command->add_option("--channels", *channels, "Stage widths (default 16,32,64): the stem, then one per stride-2 stage")
      ->delimiter(',');
  command->add_option("--feature-dim", options->spec.feature_dim, "Feature dimension")->capture_default_str();
  command->add_option("--max-steps", options->max_steps, "Stop after this many steps (0 = all epochs)");
  command->add_option("--seed", options->seed, "Initialisation and data-order seed")->capture_default_str();
  command->callback([options, channels] { run_train_classifier(*options, *channels); });
}

}  // namespace diffuse::cli
