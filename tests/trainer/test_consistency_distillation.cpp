// `diffuse distill --method consistency` end to end (trainer/distiller.h, trainer/consistency_distillation.h) on
// configs/tiny.yaml and real Fashion-MNIST: the student's checkpoints (method, sampling_steps, the target
// network's EMA), a bit-exact resume, the loss going down, and a teacher without an ODE step refused.
#include <gtest/gtest.h>

#include <algorithm>
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

class ConsistencyDistillationTest : public TrainingTest {
 protected:
  std::string teacher(const std::string& name, std::vector<std::string> overrides = {}) {
    overrides.push_back("train.steps=4");
    Trainer trainer(tiny(overrides), Device::CPU, run_dir(name), communicator_, false);
    trainer.run();
    return newest_checkpoint(run_dir(name));
  }

  DistillOptions options(const std::string& teacher_checkpoint, const std::string& name,
                         std::vector<std::string> overrides) const {
    DistillOptions distill;
    distill.config_path = std::string(DIFFUSE_SOURCE_DIR) + "/configs/tiny.yaml";
    distill.overrides = {"data.train=" + (root_ / "fmnist-test.h5").string(), "consistency.levels=8"};
    distill.overrides.insert(distill.overrides.end(), overrides.begin(), overrides.end());
    distill.teacher = teacher_checkpoint;
    distill.run_dir = run_dir(name);
    distill.method = DistillMethod::kConsistency;
    return distill;
  }

  // The raw weights and every EMA buffer of a checkpoint.
  static std::vector<std::vector<float>> weights(const std::string& checkpoint) {
    std::vector<std::vector<float>> all = {to_vector(load_checkpoint_model(checkpoint, "none")->store.params())};
    for (double rate : checkpoint_ema_rates(checkpoint))
      all.push_back(to_vector(load_checkpoint_model(checkpoint, concat(rate))->store.params()));
    return all;
  }
};

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

TEST_F(ConsistencyDistillationTest, StudentCheckpointsCarryTheMethodAndTheTargetNetwork) {
  const std::string from = teacher("teacher");
  run_distillation(options(from, "student", {"distill.steps_per_stage=2", "train.checkpoint_every=2"}));
  const std::string checkpoint = checkpoint_path(run_dir("student"), 2);
  const CheckpointMeta meta = read_checkpoint_meta(checkpoint);
  EXPECT_EQ(meta.method, "consistency");
  EXPECT_EQ(meta.sampling_steps, 1);
  // tiny.yaml's EMA rate and the target network's, mu = 0.95.
  const std::vector<double> rates = checkpoint_ema_rates(checkpoint);
  ASSERT_EQ(rates.size(), 2u);
  EXPECT_EQ(std::count(rates.begin(), rates.end(), 0.95), 1);
  const std::unique_ptr<CheckpointModel> student = load_checkpoint_model(checkpoint, "first");
  EXPECT_EQ(student->config.sample.sampler, SamplerKind::kConsistency);
  EXPECT_EQ(student->config.distill.method, DistillMethod::kConsistency);
  EXPECT_NE(to_vector(load_checkpoint_model(checkpoint, "none")->store.params()),
            to_vector(load_checkpoint_model(from, "first")->store.params()))
      << "the student learnt";
}

TEST_F(ConsistencyDistillationTest, LossFallsFromTheTeachersStart) {
  const std::string from = teacher("falling-teacher");
  run_distillation(
      options(from, "falling",
              {"distill.steps_per_stage=30", "distill.lr=1e-3", "train.log_every=5", "train.checkpoint_every=30"}));
  const std::vector<double> losses = logged(run_dir("falling") + "/metrics.jsonl", "loss");
  ASSERT_EQ(losses.size(), 6u);
  EXPECT_LT((losses[4] + losses[5]) / 2, losses.front()) << losses.front() << " -> " << losses.back();
}

// Deleting the last checkpoint and resuming gives the same student, target network and EMA bit for bit.
TEST_F(ConsistencyDistillationTest, ResumeIsBitExact) {
  const std::string from = teacher("resume-teacher");
  DistillOptions distill =
      options(from, "resume", {"distill.steps_per_stage=4", "train.checkpoint_every=2", "train.log_every=2"});
  run_distillation(distill);
  const std::string final_checkpoint = checkpoint_path(run_dir("resume"), 4);
  const std::vector<std::vector<float>> expected = weights(final_checkpoint);
  ASSERT_EQ(expected.size(), 3u);

  fs::remove(final_checkpoint);
  distill.resume = "auto";
  run_distillation(distill);
  EXPECT_EQ(weights(final_checkpoint), expected);
  EXPECT_EQ(logged(run_dir("resume") + "/metrics.jsonl", "step"), (std::vector<double>{2, 4}));
}

TEST_F(ConsistencyDistillationTest, AConsistencyStudentIsNoTeacher) {
  const std::string from = teacher("first-teacher");
  run_distillation(options(from, "first-student", {"distill.steps_per_stage=1"}));
  const std::string student = newest_checkpoint(run_dir("first-student"));
  const std::string message = testing::error_message([&] { run_distillation(options(student, "second-student", {})); });
  EXPECT_NE(message.find("is a consistency student, which has no ODE step to teach with"), std::string::npos)
      << message;
  EXPECT_FALSE(fs::exists(run_dir("second-student"))) << "nothing is written for a bad teacher";
}

}  // namespace
}  // namespace diffuse
