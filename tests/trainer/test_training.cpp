// End-to-end training on real Fashion-MNIST (the Debian package's test split,
// converted once per suite) with configs/tiny.yaml.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/error.h"
#include "core/matmul_precision.h"
#include "core/ops.h"
#include "data/convert.h"
#include "distributed/stop_signal.h"
#include "run/model_setup.h"
#include "tests/support/op_testing.h"
#include "tests/trainer/training_fixture.h"
#include "trainer/trainer.h"
#include "trainer/training_step.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

// The "loss" of every line of a run's metrics.jsonl.
std::vector<double> logged_losses(const std::string& run) {
  std::ifstream metrics(run + "/metrics.jsonl");
  std::vector<double> losses;
  for (std::string line; std::getline(metrics, line);) {
    const size_t at = line.find("\"loss\": ");
    DIFFUSE_CHECK(at != std::string::npos, "no loss in ", line);
    losses.push_back(std::stod(line.substr(at + 8)));
  }
  return losses;
}

// 2N steps straight and N steps + checkpoint + a fresh process state resumed
// from it + N steps give bitwise identical parameters, EMA and Adam moments.
void expect_bit_exact_resume(const Config& config, const std::function<std::string(const std::string&)>& run_dir,
                             Communicator& communicator) {
  Trainer straight(config, Device::CPU, run_dir("straight"), communicator, false);
  straight.run();

  {
    Trainer first_half(config, Device::CPU, run_dir("halves"), communicator, false);
    first_half.run(3);
    ASSERT_EQ(first_half.step(), 3);
  }
  Trainer second_half(config, Device::CPU, run_dir("halves"), communicator, true);
  second_half.resume_from(newest_checkpoint(run_dir("halves")));
  ASSERT_EQ(second_half.step(), 3);
  second_half.run();
  ASSERT_EQ(second_half.step(), 6);

  EXPECT_EQ(to_vector(second_half.parameters().params()), to_vector(straight.parameters().params()));
  EXPECT_EQ(to_vector(second_half.ema(0)), to_vector(straight.ema(0)));
  EXPECT_EQ(to_vector(second_half.ema(1)), to_vector(straight.ema(1)));
  EXPECT_EQ(to_vector(second_half.adam_m()), to_vector(straight.adam_m()));
  EXPECT_EQ(to_vector(second_half.adam_v()), to_vector(straight.adam_v()));
  // And training did change the weights.
  Trainer untrained(config, Device::CPU, run_dir("untrained"), communicator, false);
  EXPECT_NE(to_vector(untrained.parameters().params()), to_vector(straight.parameters().params()));
}

const std::vector<std::string> kResumeSettings = {"train.steps=6", "train.checkpoint_every=3",
                                                  "train.ema_rates=[0.9, 0.99]"};

TEST_F(TrainingTest, ResumeIsBitExact) { expect_bit_exact_resume(tiny(kResumeSettings), run_dir, communicator_); }

// The same in bf16: the resumed run rounds its weight copy from the loaded weights before its first step, as the
// straight run does at the start of each.
TEST_F(TrainingTest, Bf16ResumeIsBitExact) {
  if (!cpu_multiplies_natively(DType::BF16)) GTEST_SKIP() << "this CPU trains bf16 configs in fp32";
  std::vector<std::string> settings = kResumeSettings;
  settings.push_back("train.precision=bf16");
  expect_bit_exact_resume(
      tiny(settings), [](const std::string& name) { return run_dir("bf16-" + name); }, communicator_);
}

// A bf16 step reads the weights as they were at its start, rounded once: after 3 steps the compute copy holds the
// weights of a run stopped after 2, rounded (neither the initial weights nor those of the last update).
TEST_F(TrainingTest, Bf16StepReadsItsStartingWeightsRounded) {
  if (!cpu_multiplies_natively(DType::BF16)) GTEST_SKIP() << "this CPU trains bf16 configs in fp32";
  const Config config = tiny({"train.steps=3", "train.precision=bf16"});
  Trainer two(config, Device::CPU, run_dir("bf16-two"), communicator_, false);
  two.run(2);
  Trainer three(config, Device::CPU, run_dir("bf16-three"), communicator_, false);
  three.run();
  ASSERT_EQ(three.step(), 3);
  const model::Parameter& weight = three.parameters().get("conv_in.weight");
  ASSERT_TRUE(weight.compute.defined());
  Tensor expected = Tensor::empty(weight.shape, DType::BF16), copy = Tensor::empty(weight.shape);
  ops::cast(two.parameters().get("conv_in.weight").value, expected);
  ops::cast(weight.compute, copy);
  Tensor rounded = Tensor::empty(weight.shape);
  ops::cast(expected, rounded);
  EXPECT_EQ(to_vector(copy), to_vector(rounded));
  EXPECT_NE(to_vector(two.parameters().get("conv_in.weight").value), to_vector(weight.value));
}

// The same for an EDM model, whose noise levels are drawn from a normal rather than a uniform.
TEST_F(TrainingTest, EdmResumeIsBitExact) {
  std::vector<std::string> settings = kResumeSettings;
  settings.insert(settings.end(),
                  {"diffusion.formulation=edm", "diffusion.prediction=eps", "diffusion.loss_weight=simple"});
  const Config config = tiny(settings);
  ASSERT_EQ(config.diffusion.formulation, Formulation::kEdm);
  expect_bit_exact_resume(
      config, [](const std::string& name) { return run_dir("edm-" + name); }, communicator_);
}

// The same for consistency training (iCT), whose 6 steps cross the curriculum's two stages (s0 2, s1 4: N = 3
// levels for steps 0..2, then 5), with sample grids from the consistency sampler.
TEST_F(TrainingTest, ConsistencyTrainingResumeIsBitExact) {
  std::vector<std::string> settings = kResumeSettings;
  settings.insert(settings.end(), {"diffusion.formulation=consistency", "diffusion.prediction=eps",
                                   "diffusion.loss_weight=simple", "consistency.s0=2", "consistency.s1=4",
                                   "sample.sampler=consistency", "sample.steps=2", "train.sample_every=3"});
  const Config config = tiny(settings);
  expect_bit_exact_resume(
      config, [](const std::string& name) { return run_dir("ict-" + name); }, communicator_);
  EXPECT_TRUE(fs::exists(run_dir("ict-straight") + "/samples/step-00000003.png"));
}

// Consistency training learns with its own loss: from the same start and draws, an EDM run goes elsewhere.
TEST_F(TrainingTest, ConsistencyTrainingIsNotEdmTraining) {
  const std::vector<std::string> edm = {"train.steps=1", "diffusion.formulation=edm", "diffusion.prediction=eps",
                                        "diffusion.loss_weight=simple"};
  std::vector<std::string> consistency = edm;
  consistency[1] = "diffusion.formulation=consistency";
  Trainer edm_run(tiny(edm), Device::CPU, run_dir("edm-one-step"), communicator_, false);
  edm_run.run();
  Trainer consistency_run(tiny(consistency), Device::CPU, run_dir("ict-one-step"), communicator_, false);
  consistency_run.run();
  EXPECT_NE(to_vector(edm_run.parameters().params()), to_vector(consistency_run.parameters().params()));
  EXPECT_TRUE(std::isfinite(logged_losses(run_dir("ict-one-step")).back()));
}

// An EDM model's training levels: ln(sigma) ~ N(p_mean, p_std^2), drawn per global sample index.
TEST_F(TrainingTest, EdmTrainingLevelsAreLogNormal) {
  const DiffusionSetup setup =
      diffusion_setup(tiny({"diffusion.formulation=edm", "diffusion.prediction=eps", "diffusion.loss_weight=simple",
                            "diffusion.p_mean=-0.4", "diffusion.p_std=0.8"}));
  constexpr int kDraws = 20000;
  double sum = 0, sum2 = 0;
  for (uint32_t sample = 0; sample < kDraws; ++sample) {
    const NoiseLevel level = training_level(setup, RandomStream{3, kPurposeTimestep, 5, sample});
    const double log_sigma = std::log(level.sigma / level.alpha);
    sum += log_sigma;
    sum2 += log_sigma * log_sigma;
  }
  const double mean = sum / kDraws, std = std::sqrt(sum2 / kDraws - mean * mean);
  // Sampling errors: 0.8 / sqrt(20000) = 0.0057 for the mean, about 0.7% for the std.
  EXPECT_NEAR(mean, -0.4, 0.025);
  EXPECT_NEAR(std, 0.8, 0.025);
  // Keyed like the other training draws: the same stream gives the same level.
  EXPECT_EQ(training_level(setup, RandomStream{3, kPurposeTimestep, 5, 17}).sigma,
            training_level(setup, RandomStream{3, kPurposeTimestep, 5, 17}).sigma);
  EXPECT_NE(training_level(setup, RandomStream{3, kPurposeTimestep, 6, 17}).sigma,
            training_level(setup, RandomStream{3, kPurposeTimestep, 5, 17}).sigma);
}

// The warm-up that run() does before its first step changes no state: parameters, Adam moments, EMA and the
// step are as they were and the gradients are zero; and a run that warms up again midway follows the straight
// run to the bit, logged losses included (its data, draws and logging window did not move).
TEST_F(TrainingTest, WarmUpChangesNoState) {
  const Config config = tiny({"train.steps=4", "train.log_every=1", "train.accumulation=2"});
  Trainer straight(config, Device::CPU, run_dir("warm-up-straight"), communicator_, false);
  straight.run();

  Trainer warmed(config, Device::CPU, run_dir("warm-up-midway"), communicator_, false);
  warmed.run(2);
  const std::vector<float> params = to_vector(warmed.parameters().params());
  const std::vector<float> ema = to_vector(warmed.ema(0));
  const std::vector<float> adam_m = to_vector(warmed.adam_m()), adam_v = to_vector(warmed.adam_v());
  const std::vector<float> grads = to_vector(warmed.parameters().grads());
  ASSERT_NE(grads, std::vector<float>(grads.size(), 0.0f));  // the last step left its gradients
  warmed.warm_up();
  EXPECT_EQ(warmed.step(), 2);
  EXPECT_EQ(to_vector(warmed.parameters().params()), params);
  EXPECT_EQ(to_vector(warmed.ema(0)), ema);
  EXPECT_EQ(to_vector(warmed.adam_m()), adam_m);
  EXPECT_EQ(to_vector(warmed.adam_v()), adam_v);
  EXPECT_EQ(to_vector(warmed.parameters().grads()), std::vector<float>(grads.size(), 0.0f));

  warmed.run();
  EXPECT_EQ(warmed.step(), 4);
  EXPECT_EQ(to_vector(warmed.parameters().params()), to_vector(straight.parameters().params()));
  EXPECT_EQ(to_vector(warmed.ema(0)), to_vector(straight.ema(0)));
  EXPECT_EQ(to_vector(warmed.adam_m()), to_vector(straight.adam_m()));
  EXPECT_EQ(to_vector(warmed.adam_v()), to_vector(straight.adam_v()));
  EXPECT_EQ(logged_losses(run_dir("warm-up-midway")), logged_losses(run_dir("warm-up-straight")));
}

// Gradient accumulation splits the same global batch: same gradients up to
// summation order, and the same logged loss (every micro-batch's share).
TEST_F(TrainingTest, AccumulationMatchesOneBigBatch) {
  Trainer whole(tiny({"train.steps=2", "train.log_every=1"}), Device::CPU, run_dir("whole"), communicator_, false);
  whole.run();
  Trainer split(tiny({"train.steps=2", "train.log_every=1", "train.accumulation=4"}), Device::CPU, run_dir("split"),
                communicator_, false);
  split.run();
  const std::vector<double> whole_losses = logged_losses(run_dir("whole")),
                            split_losses = logged_losses(run_dir("split"));
  ASSERT_EQ(whole_losses.size(), 2u);
  ASSERT_EQ(split_losses.size(), 2u);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_NEAR(split_losses[i], whole_losses[i], 1e-5 * whole_losses[i]) << "step " << i + 1;
  const std::vector<float> a = to_vector(whole.parameters().params()), b = to_vector(split.parameters().params());
  double largest = 0.0;
  for (size_t i = 0; i < a.size(); ++i) largest = std::max(largest, std::fabs(static_cast<double>(a[i]) - b[i]));
  // Adam normalises the step, so summation-order differences in the gradient stay at the lr * 1e-4 scale.
  EXPECT_LT(largest, 1e-5);
}

TEST_F(TrainingTest, LossFallsAndMetricsAreWritten) {
  Trainer trainer(tiny({"train.steps=60", "train.batch_size=16", "train.log_every=10", "train.checkpoint_every=60",
                        "model.dropout=0"}),
                  Device::CPU, run_dir("loss"), communicator_, false);
  trainer.run();
  const std::vector<double> losses = logged_losses(run_dir("loss"));
  ASSERT_EQ(losses.size(), 6u);
  // v-prediction starts near E|v|^2 = 1; 60 steps at lr 1e-3 bring it well down.
  EXPECT_LT(losses.back(), 0.6 * losses.front()) << "first " << losses.front() << ", last " << losses.back();
  EXPECT_TRUE(fs::exists(checkpoint_path(run_dir("loss"), 60)));
  EXPECT_TRUE(fs::exists(run_dir("loss") + "/config.yaml"));
}

TEST_F(TrainingTest, SampleGridIsWritten) {
  Trainer trainer(tiny({"train.steps=2", "train.sample_every=2", "sample.steps=2", "sample.per_class=1"}), Device::CPU,
                  run_dir("grid"), communicator_, false);
  trainer.run();
  EXPECT_TRUE(fs::exists(run_dir("grid") + "/samples/step-00000002.png"));
}

TEST_F(TrainingTest, DatasetThatDisagreesWithTheModelIsRejected) {
  Trainer trainer(tiny({"model.image_channels=3"}), Device::CPU, run_dir("channels"), communicator_, false);
  const std::string message = testing::error_message([&] { trainer.run(); });
  EXPECT_NE(message.find("has 1 channels but model.image_channels is 3"), std::string::npos) << message;
  Trainer classes(tiny({"model.num_classes=5"}), Device::CPU, run_dir("classes"), communicator_, false);
  EXPECT_NE(testing::error_message([&] { classes.run(); }).find("has 10 classes but model.num_classes is 5"),
            std::string::npos);
}

TEST_F(TrainingTest, ExistingRunIsNotOverwritten) {
  Trainer trainer(tiny({"train.steps=1"}), Device::CPU, run_dir("existing"), communicator_, false);
  trainer.run();
  const std::string message = testing::error_message(
      [&] { Trainer again(tiny({"train.steps=1"}), Device::CPU, run_dir("existing"), communicator_, false); });
  EXPECT_NE(message.find("already holds checkpoints"), std::string::npos) << message;
}

TEST_F(TrainingTest, ResumingAnotherArchitectureNamesTheParameter) {
  Trainer trainer(tiny({"train.steps=1"}), Device::CPU, run_dir("arch"), communicator_, false);
  trainer.run();
  Trainer wider(tiny({"model.channels=64"}), Device::CPU, run_dir("arch-wider"), communicator_, true);
  const std::string message = testing::error_message([&] { wider.resume_from(newest_checkpoint(run_dir("arch"))); });
  EXPECT_NE(message.find("parameter 'time_embed.0.weight' has shape [256,64] in this model but [128,32]"),
            std::string::npos)
      << message;
}

// A stop signal ends the run at the next step boundary with a checkpoint, and the run resumes from it.
TEST_F(TrainingTest, StopSignalStopsAtTheNextStepWithACheckpoint) {
  const Config config = tiny({"train.steps=3", "train.checkpoint_every=100"});
  {
    const StopSignalScope stop_signals;
    Trainer trainer(config, Device::CPU, run_dir("preempted"), communicator_, false);
    std::raise(SIGTERM);
    EXPECT_EQ(trainer.run(), RunOutcome::kStopped);
    EXPECT_EQ(trainer.step(), 1);
  }
  EXPECT_TRUE(fs::exists(checkpoint_path(run_dir("preempted"), 1)));
  Trainer resumed(config, Device::CPU, run_dir("preempted"), communicator_, true);
  resumed.resume_from(newest_checkpoint(run_dir("preempted")));
  EXPECT_EQ(resumed.run(), RunOutcome::kFinished);
  EXPECT_EQ(resumed.step(), 3);
}

// Preempted after step 1 (with a checkpoint there in both runs), the resumed run's first windowed loss covers
// steps 1 and 2 like the uninterrupted run's, to the bit.
TEST_F(TrainingTest, ResumedRunLogsTheUninterruptedWindowedLoss) {
  const Config config = tiny({"train.steps=4", "train.log_every=2", "train.checkpoint_every=1"});
  Trainer straight(config, Device::CPU, run_dir("window-straight"), communicator_, false);
  straight.run();
  {
    const StopSignalScope stop_signals;
    Trainer first(config, Device::CPU, run_dir("window-resumed"), communicator_, false);
    std::raise(SIGTERM);
    ASSERT_EQ(first.run(), RunOutcome::kStopped);
    ASSERT_EQ(first.step(), 1);
  }
  Trainer resumed(config, Device::CPU, run_dir("window-resumed"), communicator_, true);
  resumed.resume_from(newest_checkpoint(run_dir("window-resumed")));
  resumed.run();
  const std::vector<double> expected = logged_losses(run_dir("window-straight"));
  ASSERT_EQ(expected.size(), 2u);
  EXPECT_EQ(logged_losses(run_dir("window-resumed")), expected);
}

// Killed after logging step 3 but before its checkpoint: the run resumed from step 2 logs step 3 once.
TEST_F(TrainingTest, ResumedRunLogsEachStepOnce) {
  const Config config =
      tiny({"train.steps=3", "train.log_every=1", "train.checkpoint_every=2", "train.keep_checkpoints=5"});
  {
    Trainer first(config, Device::CPU, run_dir("log-once"), communicator_, false);
    first.run();
  }
  fs::remove(checkpoint_path(run_dir("log-once"), 3));
  Trainer resumed(config, Device::CPU, run_dir("log-once"), communicator_, true);
  resumed.resume_from(newest_checkpoint(run_dir("log-once")));
  resumed.run();
  std::ifstream metrics(run_dir("log-once") + "/metrics.jsonl");
  std::vector<int> steps;
  for (std::string line; std::getline(metrics, line);) steps.push_back(std::stoi(line.substr(line.find(':') + 1)));
  EXPECT_EQ(steps, (std::vector<int>{1, 2, 3}));
}

// Gradients that stay non-finite end the run with an error; the checkpoints from before the divergence stay.
TEST_F(TrainingTest, DivergedRunEndsWithAnErrorAndKeepsTheLastGoodCheckpoints) {
  const Config config =
      tiny({"train.steps=10", "train.checkpoint_every=1", "train.keep_checkpoints=2", "train.max_consecutive_skips=3"});
  const DiffusionSetup setup = diffusion_setup(config);
  Trainer trainer(config, Device::CPU, run_dir("diverged"), communicator_, false);
  // From step 3 on (micro-batch step 2, counted from 0) the loss is scaled by infinity: every gradient overflows.
  trainer.set_micro_step([&](model::UNet& unet, const MicroBatch& batch, const ops::LossScale& loss_scale) {
    return train_micro_batch(unet, setup, config.seed, batch, batch.step >= 2 ? ops::LossScale(INFINITY) : loss_scale);
  });
  const std::string message = testing::error_message([&] { trainer.run(); });
  EXPECT_NE(message.find("training diverged: the gradients of 3 steps in a row, up to step 5, were not finite "
                         "(train.max_consecutive_skips = 3)"),
            std::string::npos)
      << message;
  EXPECT_TRUE(fs::exists(checkpoint_path(run_dir("diverged"), 1)));
  EXPECT_TRUE(fs::exists(checkpoint_path(run_dir("diverged"), 2)));
  EXPECT_EQ(newest_checkpoint(run_dir("diverged")), checkpoint_path(run_dir("diverged"), 2));
}

TEST_F(TrainingTest, UnwritableRunDirectoryFailsBeforeTraining) {
  const std::string message =
      testing::error_message([&] { Trainer trainer(tiny(), Device::CPU, "/proc/diffuse-run", communicator_, false); });
  EXPECT_NE(message.find("/proc/diffuse-run"), std::string::npos) << message;
}

}  // namespace
}  // namespace diffuse
