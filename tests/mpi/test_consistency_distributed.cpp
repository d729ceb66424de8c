// Consistency distillation on real ranks (`mpirun -np 2` from ctest) on the Fashion-MNIST test split with
// configs/tiny.yaml at half width: two ranks with half the batch each follow one rank with the whole batch, in
// consistency distillation (the student and its target network alike) and in consistency training, because every
// draw is keyed by global sample index.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/convert.h"
#include "distributed/rank_agreement.h"
#include "run/checkpoint_model.h"
#include "tests/mpi/mpi_testing.h"
#include "trainer/consistency_distillation.h"
#include "trainer/trainer.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

int rank() { return test_world().rank(); }
int world() { return test_world().size(); }

class DistributedConsistency : public ::testing::Test {
 protected:
  // Rank 0 converts the data once, into a directory every rank uses.
  static void SetUpTestSuite() {
    std::string root;
    if (rank() == 0) {
      root = (fs::temp_directory_path() / ("diffuse-mpi-consistency-" + std::to_string(::getpid()))).string();
      fs::create_directories(root);
      IdxConversion conversion;
      conversion.images_path = std::string(kFashionMnistDirectory) + "/t10k-images-idx3-ubyte.gz";
      conversion.labels_path = std::string(kFashionMnistDirectory) + "/t10k-labels-idx1-ubyte.gz";
      conversion.output_path = root + "/fmnist-test.h5";
      conversion.num_classes = 10;
      convert_idx(conversion);
    }
    root_ = broadcast_string(test_world(), root, 0);
  }
  static void TearDownTestSuite() {
    test_world().barrier();
    if (rank() == 0) fs::remove_all(root_);
  }

  static Config tiny(std::vector<std::string> overrides = {}) {
    overrides.insert(overrides.begin(), {"data.train=" + root_ + "/fmnist-test.h5", "model.channels=16",
                                         "train.batch_size=" + std::to_string(2 * world())});
    return load_config(std::string(DIFFUSE_SOURCE_DIR) + "/configs/tiny.yaml", overrides);
  }
  static std::string run_dir(const std::string& name) { return root_ + "/" + name; }
  static std::string local_run_dir(const std::string& name) {
    return root_ + "/" + name + "-rank" + std::to_string(rank());
  }

  // `run` learnt with consistency distillation from `weights` on `communicator`, in `directory`.
  static std::unique_ptr<Trainer> consistency_run(const Config& run, const Tensor& weights, model::UNet* teacher,
                                                  const std::string& directory, Communicator& communicator) {
    auto trainer = std::make_unique<Trainer>(run, Device::CPU, directory, communicator, false);
    trainer->start_from_weights(weights);
    ConsistencyDistillation loss(run, *teacher, Device::CPU);
    loss.install(*trainer);
    trainer->run();
    return trainer;
  }

  static std::string root_;
  SingleProcessCommunicator single_;
};

std::string DistributedConsistency::root_;

double relative_difference(const std::vector<float>& reference, const std::vector<float>& other) {
  double difference = 0.0, norm = 0.0;
  for (size_t i = 0; i < reference.size(); ++i) {
    difference += std::pow(static_cast<double>(reference[i]) - other[i], 2);
    norm += std::pow(static_cast<double>(reference[i]), 2);
  }
  return std::sqrt(difference / norm);
}

TEST_F(DistributedConsistency, DistillationOnManyRanksFollowsOneRank) {
  // Every rank trains the same teacher alone (the run is a pure function of the config).
  {
    Trainer teacher(tiny({"train.steps=2"}), Device::CPU, local_run_dir("teacher"), single_, false);
    teacher.run();
  }
  const std::unique_ptr<CheckpointModel> teacher =
      load_checkpoint_model(newest_checkpoint(local_run_dir("teacher")), "first");
  const Config run =
      consistency_distillation_config(tiny({"distill.steps_per_stage=3", "consistency.levels=8"}), teacher->config);
  const std::unique_ptr<Trainer> split =
      consistency_run(run, teacher->store.params(), teacher->unet.get(), run_dir("split"), test_world());
  const std::unique_ptr<Trainer> whole =
      consistency_run(run, teacher->store.params(), teacher->unet.get(), local_run_dir("whole"), single_);
  EXPECT_LT(relative_difference(to_vector(whole->parameters().params()), to_vector(split->parameters().params())),
            1e-5);
  // The target network (the last EMA rate) follows too.
  const size_t target = run.train.ema_rates.size() - 1;
  EXPECT_EQ(run.train.ema_rates[target], 0.95);
  EXPECT_LT(relative_difference(to_vector(whole->ema(target)), to_vector(split->ema(target))), 1e-5);
  EXPECT_NE(to_vector(whole->parameters().params()), to_vector(teacher->store.params())) << "the student learnt";
}

TEST_F(DistributedConsistency, TrainingOnManyRanksFollowsOneRank) {
  // 4 steps over the curriculum's two stages (s0 2, s1 4).
  const Config config = tiny({"train.steps=4", "diffusion.formulation=consistency", "diffusion.prediction=eps",
                              "diffusion.loss_weight=simple", "consistency.s0=2", "consistency.s1=4"});
  Trainer split(config, Device::CPU, run_dir("ict-split"), test_world(), false);
  split.run();
  Trainer whole(config, Device::CPU, local_run_dir("ict-whole"), single_, false);
  whole.run();
  EXPECT_LT(relative_difference(to_vector(whole.parameters().params()), to_vector(split.parameters().params())), 1e-5);
}

}  // namespace
}  // namespace diffuse
