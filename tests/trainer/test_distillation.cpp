// `diffuse distill` end to end (trainer/distiller.h) on configs/tiny.yaml and
// real Fashion-MNIST: stages, the loss within each, the students'
// sampling_steps, resuming mid-stage and between stages, and bad teachers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "run/checkpoint_model.h"
#include "tests/trainer/training_fixture.h"
#include "trainer/distiller.h"
#include "trainer/trainer.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

class DistillationTest : public TrainingTest {
 protected:
  // A tiny teacher trained for a few steps with these overrides; its newest checkpoint.
  std::string teacher(const std::string& name, std::vector<std::string> overrides = {}) {
    overrides.push_back("train.steps=4");
    Trainer trainer(tiny(overrides), Device::CPU, run_dir(name), communicator_, false);
    trainer.run();
    return newest_checkpoint(run_dir(name));
  }

  DistillOptions options(const std::string& teacher_checkpoint, const std::string& name, int from, int to,
                         std::vector<std::string> overrides) const {
    DistillOptions distill;
    distill.config_path = std::string(DIFFUSE_SOURCE_DIR) + "/configs/tiny.yaml";
    distill.overrides = {"data.train=" + (root_ / "fmnist-test.h5").string()};
    distill.overrides.insert(distill.overrides.end(), overrides.begin(), overrides.end());
    distill.teacher = teacher_checkpoint;
    distill.run_dir = run_dir(name);
    distill.from_steps = from;
    distill.to_steps = to;
    return distill;
  }

  static std::vector<float> raw_weights(const std::string& checkpoint) {
    return to_vector(load_checkpoint_model(checkpoint, "none")->store.params());
  }
};

// The values of `key` in the lines of a metrics.jsonl that have it, in order.
std::vector<double> logged(const std::string& metrics_path, const std::string& key) {
  std::ifstream file(metrics_path);
  std::vector<double> values;
  const std::string field = "\"" + key + "\": ";
  for (std::string line; std::getline(file, line);) {
    const size_t at = line.find(field);
    if (at != std::string::npos) values.push_back(std::stod(line.substr(at + field.size())));
  }
  return values;
}

// 8 -> 4 -> 2 steps: each stage's loss falls from its first logged window to its last ones, and each
// stage's checkpoints say how many steps the student samples in.
// How the teacher moves to a GPU once the device is known: a model of its own with the same weights.
TEST_F(DistillationTest, CheckpointModelCopiesOntoADevice) {
  const std::unique_ptr<CheckpointModel> loaded = load_checkpoint_model(teacher("copied"), "first");
  const std::unique_ptr<CheckpointModel> copied = checkpoint_model_on(*loaded, Device::CPU);
  EXPECT_NE(copied->store.params().raw(), loaded->store.params().raw());
  EXPECT_EQ(to_vector(copied->store.params()), to_vector(loaded->store.params()));
  EXPECT_EQ(copied->meta.step, loaded->meta.step);
  EXPECT_EQ(copied->spec.channels, loaded->spec.channels);
}

TEST_F(DistillationTest, TwoStagesLowerTheirLossAndLabelTheirStudents) {
  const std::string from = teacher("teacher");
  run_distillation(
      options(from, "two-stages", 8, 2,
              {"distill.steps_per_stage=30", "distill.lr=1e-3", "train.log_every=5", "train.checkpoint_every=30"}));
  const std::vector<std::pair<std::string, int>> stages = {{"stage-1-4steps", 4}, {"stage-2-2steps", 2}};
  for (const auto& [name, steps] : stages) {
    const std::string directory = run_dir("two-stages") + "/" + name;
    const std::string checkpoint = newest_checkpoint(directory);
    ASSERT_FALSE(checkpoint.empty()) << directory;
    const CheckpointMeta meta = read_checkpoint_meta(checkpoint);
    EXPECT_EQ(meta.sampling_steps, steps);
    EXPECT_EQ(meta.method, "progressive");
    EXPECT_EQ(meta.step, 30);
    const std::vector<double> losses = logged(directory + "/metrics.jsonl", "loss");
    ASSERT_EQ(losses.size(), 6u) << name;
    const double first = losses.front(), last = (losses[4] + losses[5]) / 2;
    EXPECT_LT(last, 0.8 * first) << name << ": loss " << first << " -> " << last;
    // The learning rate restarts at distill.lr each stage and decays linearly: update s of 30 gets (31 - s) / 30.
    const std::vector<double> lr = logged(directory + "/metrics.jsonl", "lr");
    ASSERT_EQ(lr.size(), 6u);
    EXPECT_NEAR(lr.front(), 1e-3 * 26 / 30, 1e-9) << name << " at step 5";
    EXPECT_NEAR(lr.back(), 1e-3 / 30, 1e-9) << name << " at step 30";
    EXPECT_EQ(logged(directory + "/metrics.jsonl", "sampling_steps").front(), steps);
  }
}

// Deleting a stage's last checkpoint, or the whole last stage, and resuming gives the same students bit
// for bit: mid-stage resume restores the optimizer, and a stage restarts from its teacher's final weights.
TEST_F(DistillationTest, ResumeRecreatesTheSameStudents) {
  const std::string from = teacher("resume-teacher");
  DistillOptions distill =
      options(from, "resume", 8, 2, {"distill.steps_per_stage=4", "train.checkpoint_every=2", "train.log_every=2"});
  run_distillation(distill);
  const std::string stage2 = run_dir("resume") + "/stage-2-2steps";
  const std::string final_checkpoint = checkpoint_path(stage2, 4);
  const std::vector<float> expected = raw_weights(final_checkpoint);

  fs::remove(final_checkpoint);
  distill.resume = "auto";
  run_distillation(distill);
  EXPECT_EQ(raw_weights(final_checkpoint), expected) << "resumed mid-stage";
  // Resumed from step 2, not restarted: the line of step 4 the first run wrote gives way to the resumed run's.
  const std::vector<double> steps = logged(stage2 + "/metrics.jsonl", "step");
  EXPECT_EQ(steps, (std::vector<double>{2, 4}));

  fs::remove_all(stage2);
  run_distillation(distill);
  EXPECT_EQ(raw_weights(final_checkpoint), expected) << "stage 2 restarted from stage 1's student";

  distill.resume.clear();
  std::string message = testing::error_message([&] { run_distillation(distill); });
  EXPECT_NE(message.find("already holds checkpoints: continue it with --resume auto"), std::string::npos) << message;

  distill.resume = "auto";
  distill.teacher = teacher("other-teacher", {"seed=5"});
  message = testing::error_message([&] { run_distillation(distill); });
  EXPECT_NE(message.find("use the same --teacher or another --run-dir"), std::string::npos) << message;
}

TEST_F(DistillationTest, IncompatibleTeachersAreRefusedWithWhatIsNeeded) {
  const std::string eps = teacher("eps-teacher", {"diffusion.prediction=eps", "diffusion.loss_weight=simple"});
  std::string message = testing::error_message([&] { run_distillation(options(eps, "eps", 8, 4, {})); });
  EXPECT_NE(message.find("predicts 'eps'; distillation needs diffusion.prediction x0 or v"), std::string::npos)
      << message;

  const std::string linear = teacher("linear-teacher", {"diffusion.schedule=linear"});
  message = testing::error_message([&] { run_distillation(options(linear, "linear", 8, 4, {})); });
  EXPECT_NE(message.find("schedule 'linear'; distillation needs diffusion.schedule cosine_continuous"),
            std::string::npos)
      << message;

  const std::string good = teacher("good-teacher");
  message = testing::error_message([&] { run_distillation(options(good, "bad-to", 8, 3, {})); });
  EXPECT_NE(message.find("--to 3 must be --from 8 divided by a power of two"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(run_dir("bad-to"))) << "nothing is written for bad arguments";
}

TEST(DistillationStages, HalveFromTheTeacherToTheLastStudent) {
  EXPECT_EQ(distillation_stages(1024, 4), (std::vector<int>{512, 256, 128, 64, 32, 16, 8, 4}));
  EXPECT_EQ(distillation_stages(8, 1), (std::vector<int>{4, 2, 1}));
  EXPECT_THROW(distillation_stages(8, 8), Error);
  EXPECT_THROW(distillation_stages(12, 4), Error);
  EXPECT_THROW(distillation_stages(4, 8), Error);
}

}  // namespace
}  // namespace diffuse
