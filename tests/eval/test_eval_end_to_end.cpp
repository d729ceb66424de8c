// `diffuse eval` end to end on a tiny checkpoint (configs/tiny.yaml trained
// two steps on Fashion-MNIST) with a briefly trained classifier: the report's
// keys, evaluation of an image file written by `diffuse sample`, the
// bad-input errors, FID during training, and samples that do not depend on
// how they are split over ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "distributed/rank_share.h"
#include "eval/classifier_training.h"
#include "eval/fid_during_training.h"
#include "eval/sample_generation.h"
#include "io/checkpoint.h"
#include "run/config.h"
#include "run/model_setup.h"
#include "run/sampling.h"
#include "tests/eval/eval_testing.h"
#include "tests/support/op_testing.h"
#include "tests/support/scratch_directory.h"
#include "trainer/trainer.h"

namespace diffuse::eval {
namespace {

struct CommandResult {
  int status = 0;
  std::string output;  // stdout and stderr
};

CommandResult run_diffuse(const std::string& arguments) {
  const std::string log = testing::scratch_directory() + "/command.log";
  const int status = std::system((std::string(DIFFUSE_BINARY) + " " + arguments + " > " + log + " 2>&1").c_str());
  std::ifstream file(log);
  std::stringstream text;
  text << file.rdbuf();
  return {status, text.str()};
}

Config tiny_config(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> overrides = {"data.train=" + testing::fashion_mnist_test(), "train.steps=2",
                                        "train.checkpoint_every=2"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return load_config(std::string(DIFFUSE_SOURCE_DIR) + "/configs/tiny.yaml", overrides);
}

class EvalEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SingleProcessCommunicator communicator;
    const std::string run = testing::scratch_directory() + "/tiny-run";
    Trainer trainer(tiny_config(), Device::CPU, run, communicator, false);
    trainer.run();
    checkpoint_ = newest_checkpoint(run);
    ClassifierTrainingOptions options;
    options.train_path = options.test_path = testing::fashion_mnist_test();
    options.out_path = testing::scratch_directory() + "/e2e-classifier.h5";
    options.max_steps = 10;
    options.max_test = 64;
    options.batch_size = 32;
    options.spec.channels = {8, 16};
    options.spec.feature_dim = 16;
    train_classifier(options, communicator);
    features_ = options.out_path;
  }

  std::string eval_arguments(const std::string& source, const std::string& out) const {
    return "eval " + source + " --ref " + testing::fashion_mnist_subset() + " --features " + features_ + " --out " +
           out + " --kid-subsets 4 --batch 32";
  }

  static std::string checkpoint_, features_;
};

std::string EvalEndToEnd::checkpoint_, EvalEndToEnd::features_;

TEST_F(EvalEndToEnd, CheckpointReportHasEveryMetric) {
  const std::string report = testing::scratch_directory() + "/report.json";
  const CommandResult result =
      run_diffuse(eval_arguments("--ckpt " + checkpoint_ + " --sampler ddim --steps 2 --n 24", report));
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("fid "), std::string::npos) << result.output;
  const std::string json = diffuse::testing::read_text_file(report);
  for (const char* key : {"\"n\": 24", "\"fid\": ", "\"kid_mean\": ", "\"kid_std\": ", "\"precision\": ",
                          "\"recall\": ", "\"class_accuracy\": ", "\"steps\": 2", "\"reference_n\": 300"})
    EXPECT_NE(json.find(key), std::string::npos) << key << " missing from\n" << json;
}

TEST_F(EvalEndToEnd, ImageFileFromSampleIsEvaluated) {
  const std::string samples = testing::scratch_directory() + "/samples.h5";
  const CommandResult sampled = run_diffuse("sample --ckpt " + checkpoint_ + " --steps 2 --n 20 --out " + samples);
  ASSERT_EQ(sampled.status, 0) << sampled.output;
  const std::string report = testing::scratch_directory() + "/images-report.json";
  const CommandResult result = run_diffuse(eval_arguments("--images " + samples, report));
  ASSERT_EQ(result.status, 0) << result.output;
  const std::string json = diffuse::testing::read_text_file(report);
  EXPECT_NE(json.find("\"n\": 20"), std::string::npos) << json;
  EXPECT_NE(json.find("\"class_accuracy\": "), std::string::npos) << json;  // the file has the requested labels
}

TEST_F(EvalEndToEnd, BadInputsAreNamed) {
  const std::string report = testing::scratch_directory() + "/never.json";
  // n <= d: the covariance of 16-d features needs more than 16 samples.
  CommandResult result = run_diffuse(eval_arguments("--ckpt " + checkpoint_ + " --n 16", report));
  EXPECT_NE(result.status, 0);
  EXPECT_NE(result.output.find("16 images are too few for 16-d features"), std::string::npos) << result.output;
  // A reference set of another shape.
  const std::string rgb = testing::write_random_dataset("rgb-reference.h5", 40, 32, 3, 10, 1);
  result = run_diffuse("eval --ckpt " + checkpoint_ + " --n 20 --ref " + rgb + " --features " + features_ + " --out " +
                       report);
  EXPECT_NE(result.status, 0);
  EXPECT_NE(result.output.find("reference set " + rgb + " has 32x32x3 images but the samples of"), std::string::npos)
      << result.output;
  // A feature network trained on other images.
  const std::string small = testing::write_random_dataset("small.h5", 64, 16, 1, 2, 1);
  const std::string small_features = testing::scratch_directory() + "/small-classifier.h5";
  ClassifierTrainingOptions options;
  options.train_path = options.test_path = small;
  options.out_path = small_features;
  options.max_steps = 1;
  options.batch_size = 16;
  options.spec.channels = {8};
  options.spec.feature_dim = 8;
  SingleProcessCommunicator communicator;
  train_classifier(options, communicator);
  result = run_diffuse("eval --ckpt " + checkpoint_ + " --n 20 --ref " + testing::fashion_mnist_subset() +
                       " --features " + small_features + " --out " + report);
  EXPECT_NE(result.status, 0);
  EXPECT_NE(result.output.find("takes 16x16x1 images but the samples of " + checkpoint_ + " are 32x32x1"),
            std::string::npos)
      << result.output;
  EXPECT_FALSE(std::ifstream(report).good()) << "no report is written for bad input";
}

// The trainer's hook: FID of the current weights against the test set, the same on a second call (the
// samples are keyed by index and the seed), and an error before sampling when eval.samples is too small.
TEST_F(EvalEndToEnd, FidDuringTraining) {
  const Config config = tiny_config({"sample.steps=2"});
  model::ParameterStore store;
  model::UNet unet(unet_spec(config.model), store);
  store.finalize(Device::CPU);
  store.initialize(2);
  SingleProcessCommunicator communicator;
  TrainingFidOptions options;
  options.features = features_;
  options.reference = testing::fashion_mnist_subset();
  options.samples = 20;
  TrainingFid fid(options, unet.spec(), communicator);
  const double first = fid(unet, diffusion_setup(config), config);
  EXPECT_GT(first, 0.0);
  EXPECT_EQ(fid(unet, diffusion_setup(config), config), first);
  options.samples = 16;
  const std::string message = diffuse::testing::error_message([&] { TrainingFid(options, unet.spec(), communicator); });
  EXPECT_NE(message.find("eval.samples: 16 images are too few for 16-d features"), std::string::npos) << message;
}

// `diffuse train` with train.eval_every logs the FID of the EMA weights to metrics.jsonl at those steps.
TEST_F(EvalEndToEnd, TrainLogsFidEveryEvalSteps) {
  const std::string run = testing::scratch_directory() + "/eval-every-run";
  const std::string sets = " --set data.train=" + testing::fashion_mnist_test() +
                           " --set data.test=" + testing::fashion_mnist_subset() + " --set eval.features=" + features_ +
                           " --set eval.samples=20 --set sample.steps=2 --set train.steps=4 --set train.eval_every=2";
  const CommandResult result =
      run_diffuse("train --config " + std::string(DIFFUSE_SOURCE_DIR) + "/configs/tiny.yaml --run-dir " + run + sets);
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("evaluation at step 2:  fid "), std::string::npos) << result.output;
  std::istringstream metrics(diffuse::testing::read_text_file(run + "/metrics.jsonl"));
  std::vector<std::string> fid_lines;
  for (std::string line; std::getline(metrics, line);)
    if (line.find("\"fid\": ") != std::string::npos) fid_lines.push_back(line);
  ASSERT_EQ(fid_lines.size(), 2u) << diffuse::testing::read_text_file(run + "/metrics.jsonl");
  EXPECT_EQ(fid_lines[0].rfind("{\"step\": 2,", 0), 0u) << fid_lines[0];
  EXPECT_EQ(fid_lines[1].rfind("{\"step\": 4,", 0), 0u) << fid_lines[1];
}

// A run asking for FID without a feature network stops before training, naming the key.
TEST(EvalConfig, EvalEveryNeedsFeatures) {
  const std::string message = diffuse::testing::error_message([] { tiny_config({"train.eval_every=2"}); });
  EXPECT_NE(message.find("eval.features"), std::string::npos) << message;
}

// Sample i depends on i only: one rank drawing [0, 6) in batches of 4 equals two ranks drawing [0, 3) and
// [3, 6) in batches of 2 (multi-rank eval gathers exactly these shares), up to the summation order of GEMMs
// over batches of other sizes.
TEST(EvalSamples, IndependentOfTheSplitOverRanks) {
  const Config config = tiny_config();
  model::ParameterStore store;
  model::UNet unet(unet_spec(config.model), store);
  store.finalize(Device::CPU);
  store.initialize(1);
  SamplerOptions options;
  options.steps = 2;
  options.guidance = 1.0;
  options.seed = 9;
  const DiffusionSetup setup = diffusion_setup(config);
  const auto draw = [&](int rank, int ranks, int64_t batch) {
    return sample_share(unet, setup, options, LabelOrder::kInterleaved, 6, rank_share(6, rank, ranks), batch);
  };
  const Tensor whole = draw(0, 1, 4);
  const Tensor first = draw(0, 2, 2);
  const Tensor second = draw(1, 2, 2);
  std::vector<float> split = to_vector(first);
  const std::vector<float> rest = to_vector(second);
  split.insert(split.end(), rest.begin(), rest.end());
  const std::vector<float> together = to_vector(whole);
  ASSERT_EQ(together.size(), split.size());
  double largest = 0.0;
  for (size_t i = 0; i < split.size(); ++i)
    largest = std::max(largest, std::fabs(static_cast<double>(split[i]) - together[i]));
  EXPECT_LT(largest, 1e-4);
  const Tensor labels = sample_labels(LabelOrder::kInterleaved, 10, 12, 8, 12);
  EXPECT_EQ(labels.i32()[0], 8);
  EXPECT_EQ(labels.i32()[2], 0);
  // Grids: count / num_classes of each class in turn.
  const Tensor grid = sample_labels(LabelOrder::kBlocks, 3, 6, 0, 6);
  const std::vector<int32_t> grid_classes(grid.i32(), grid.i32() + grid.numel());
  EXPECT_EQ(grid_classes, (std::vector<int32_t>{0, 0, 1, 1, 2, 2}));
}

}  // namespace
}  // namespace diffuse::eval
