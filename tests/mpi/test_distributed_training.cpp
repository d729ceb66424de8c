// Distributed training as real ranks (`mpirun -np 2` and `-np 3` from ctest)
// on the Fashion-MNIST test split with configs/tiny.yaml: ranks stay
// identical, W ranks with B/W each follow 1 rank with B, a 1-rank checkpoint
// resumes on W ranks, ZeRO-1 follows the unsharded optimizer, and bad starts
// fail on every rank.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "data/convert.h"
#include "distributed/gradient_reducer.h"
#include "distributed/rank_agreement.h"
#include "run/model_setup.h"
#include "tests/mpi/mpi_testing.h"
#include "trainer/trainer.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

int rank() { return test_world().rank(); }
int world() { return test_world().size(); }

class DistributedTraining : public ::testing::Test {
 protected:
  // Rank 0 converts the data once, into a directory every rank uses.
  static void SetUpTestSuite() {
    std::string root;
    if (rank() == 0) {
      root = (fs::temp_directory_path() / ("diffuse-mpi-training-" + std::to_string(::getpid()))).string();
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

  // configs/tiny.yaml at half the width (the machine may have two cores for three ranks), with a
  // global batch of 2 per rank and small gradient buckets.
  static Config tiny(std::vector<std::string> overrides = {}) {
    overrides.insert(overrides.begin(), {"data.train=" + root_ + "/fmnist-test.h5", "model.channels=16",
                                         "train.batch_size=" + std::to_string(2 * world()), "train.bucket_mb=0.02"});
    return load_config(std::string(DIFFUSE_SOURCE_DIR) + "/configs/tiny.yaml", overrides);
  }
  // A run directory of the W-rank job (rank 0 writes into it).
  static std::string run_dir(const std::string& name) { return root_ + "/" + name; }
  // A run directory of this rank's own single-process run.
  static std::string local_run_dir(const std::string& name) {
    return root_ + "/" + name + "-rank" + std::to_string(rank());
  }

  // `config` trained on every rank and, with the whole batch, on this rank alone reaches the same weights up to
  // summation order.
  void expect_ranks_follow_one_rank(const Config& config, const std::string& name);

  static std::string root_;
  SingleProcessCommunicator single_;
};

std::string DistributedTraining::root_;

double relative_difference(const std::vector<float>& reference, const std::vector<float>& other) {
  double difference = 0.0, norm = 0.0;
  for (size_t i = 0; i < reference.size(); ++i) {
    difference += std::pow(static_cast<double>(reference[i]) - other[i], 2);
    norm += std::pow(static_cast<double>(reference[i]), 2);
  }
  return std::sqrt(difference / norm);
}

double largest_difference(const std::vector<float>& reference, const std::vector<float>& other) {
  double largest = 0.0;
  for (size_t i = 0; i < reference.size(); ++i)
    largest = std::max(largest, std::fabs(static_cast<double>(reference[i]) - other[i]));
  return largest;
}

// Rank 0's copy of `buffer`, on every rank.
std::vector<float> rank0_copy(const Tensor& buffer) {
  Tensor copy_of_buffer = Tensor::empty(buffer.shape());
  copy(buffer, copy_of_buffer);
  test_world().broadcast(copy_of_buffer, 0);
  return to_vector(copy_of_buffer);
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

// Passes every collective on to `inner`, counting the non-blocking ones (gradient buckets start those).
class CountingCommunicator final : public Communicator {
 public:
  explicit CountingCommunicator(Communicator& inner) : inner_(inner) {}
  const char* name() const override { return inner_.name(); }
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  int local_rank() const override { return inner_.local_rank(); }
  int local_size() const override { return inner_.local_size(); }
  void all_reduce(const Tensor& input, const Tensor& output, ReduceOp op) override {
    inner_.all_reduce(input, output, op);
  }
  double all_reduce(double value, ReduceOp op) override { return inner_.all_reduce(value, op); }
  void broadcast(const Tensor& buffer, int root) override { inner_.broadcast(buffer, root); }
  void all_gather(const Tensor& local, const Tensor& gathered) override { inner_.all_gather(local, gathered); }
  void all_gather_in_place(const Tensor& buffer, const std::vector<int64_t>& counts) override {
    inner_.all_gather_in_place(buffer, counts);
  }
  void barrier() override { inner_.barrier(); }
  CollectiveHandle start_all_reduce(const Tensor& buffer, ReduceOp op) override {
    started_values.push_back(buffer.numel());
    return inner_.start_all_reduce(buffer, op);
  }
  CollectiveHandle start_reduce_scatter(const Tensor& input, const Tensor& output,
                                        const std::vector<int64_t>& counts) override {
    started_values.push_back(input.numel());
    return inner_.start_reduce_scatter(input, output, counts);
  }
  void progress() override { inner_.progress(); }
  void wait(CollectiveHandle handle) override { inner_.wait(handle); }

  std::vector<int64_t> started_values;  // per started non-blocking collective, the values it reduces

 private:
  Communicator& inner_;
};

// The warm-up before the first step reduces no gradient bucket (only its one float) and changes no state, with
// the optimizer whole and sharded; the run continued after it follows the straight run to the bit.
TEST_F(DistributedTraining, WarmUpReducesNoBucketAndChangesNoState) {
  for (const std::string sharded : {"false", "true"}) {
    const Config config = tiny({"train.steps=3", "train.shard_optimizer=" + sharded});
    Trainer straight(config, Device::CPU, run_dir("warm-up-straight-" + sharded), test_world(), false);
    straight.run();

    CountingCommunicator counting(test_world());
    Trainer warmed(config, Device::CPU, run_dir("warm-up-midway-" + sharded), counting, false);
    warmed.run(1);
    ASSERT_FALSE(counting.started_values.empty()) << "the step reduced its gradients in buckets";
    const std::vector<float> params = to_vector(warmed.parameters().params());
    const std::vector<float> ema = to_vector(warmed.ema(0));
    const std::vector<float> adam_m = to_vector(warmed.adam_m()), adam_v = to_vector(warmed.adam_v());
    counting.started_values.clear();
    warmed.warm_up();
    EXPECT_EQ(counting.started_values, std::vector<int64_t>{1}) << "sharded " << sharded;
    EXPECT_EQ(warmed.step(), 1);
    EXPECT_EQ(to_vector(warmed.parameters().params()), params);
    EXPECT_EQ(to_vector(warmed.ema(0)), ema);
    EXPECT_EQ(to_vector(warmed.adam_m()), adam_m);
    EXPECT_EQ(to_vector(warmed.adam_v()), adam_v);
    const std::vector<float> grads = to_vector(warmed.parameters().grads());
    EXPECT_EQ(grads, std::vector<float>(grads.size(), 0.0f));

    warmed.run();
    EXPECT_EQ(to_vector(warmed.parameters().params()), to_vector(straight.parameters().params()));
    EXPECT_EQ(to_vector(warmed.adam_m()), to_vector(straight.adam_m()));
    EXPECT_EQ(to_vector(warmed.adam_v()), to_vector(straight.adam_v()));
  }
}

TEST_F(DistributedTraining, EveryRankHoldsTheSameState) {
  Trainer trainer(tiny({"train.steps=3"}), Device::CPU, run_dir("identical"), test_world(), false);
  trainer.run();
  EXPECT_EQ(rank0_copy(trainer.parameters().params()), to_vector(trainer.parameters().params()));
  EXPECT_EQ(rank0_copy(trainer.ema(0)), to_vector(trainer.ema(0)));
  EXPECT_EQ(rank0_copy(trainer.adam_m()), to_vector(trainer.adam_m()));
  EXPECT_EQ(rank0_copy(trainer.adam_v()), to_vector(trainer.adam_v()));
  if (rank() == 0) {
    EXPECT_TRUE(fs::exists(checkpoint_path(run_dir("identical"), 3)));
  }
}

// The design's promise: W ranks x B/W and 1 rank x B compute the same gradients up to summation order.
TEST_F(DistributedTraining, ManyRanksFollowOneRankWithTheWholeBatch) {
  expect_ranks_follow_one_rank(tiny({"train.steps=3"}), "split");
}

// The same for an EDM model (its noise levels are normal draws keyed by global sample index); two ranks only.
TEST_F(DistributedTraining, EdmTrainingOnManyRanksMatchesOneRank) {
  expect_ranks_follow_one_rank(
      tiny({"train.steps=3", "diffusion.formulation=edm", "diffusion.prediction=eps", "diffusion.loss_weight=simple"}),
      "edm");
}

void DistributedTraining::expect_ranks_follow_one_rank(const Config& config, const std::string& name) {
  Trainer distributed(config, Device::CPU, run_dir(name + "-split"), test_world(), false);
  distributed.run();
  Trainer alone(config, Device::CPU, local_run_dir(name + "-whole"), single_, false);
  alone.run();
  const std::vector<float> reference = to_vector(alone.parameters().params());
  const std::vector<float> params = to_vector(distributed.parameters().params());
  const double relative = relative_difference(reference, params);
  if (rank() == 0)
    std::printf(
        "[agreement] 1 rank x batch %d vs %d ranks x %d, %d steps: relative L2 difference %.3e, "
        "largest difference %.3e\n",
        config.train.batch_size, world(), config.train.batch_size / world(), 3, relative,
        largest_difference(reference, params));
  EXPECT_LT(relative, 1e-5);
}

// Accumulation on many ranks reduces only after the last micro-step and still follows one rank.
TEST_F(DistributedTraining, AccumulationOnManyRanksFollowsOneRank) {
  const std::string batch = "train.batch_size=" + std::to_string(4 * world());
  Trainer distributed(tiny({"train.steps=2", batch, "train.accumulation=2"}), Device::CPU, run_dir("accumulated"),
                      test_world(), false);
  distributed.run();
  Trainer alone(tiny({"train.steps=2", batch}), Device::CPU, local_run_dir("accumulated"), single_, false);
  alone.run();
  EXPECT_LT(relative_difference(to_vector(alone.parameters().params()), to_vector(distributed.parameters().params())),
            1e-5);
}

TEST_F(DistributedTraining, OneRankCheckpointResumesOnManyRanks) {
  const Config config = tiny({"train.steps=4", "train.checkpoint_every=2"});
  const std::string directory = run_dir("regrown");
  if (rank() == 0) {
    Trainer first_half(config, Device::CPU, directory, single_, false);
    first_half.run(2);
  }
  test_world().barrier();  // the checkpoint is complete
  Trainer second_half(config, Device::CPU, directory, test_world(), true);
  second_half.resume_from(checkpoint_path(directory, 2));
  EXPECT_EQ(second_half.step(), 2);
  second_half.run();
  EXPECT_EQ(second_half.step(), 4);
  Trainer straight(config, Device::CPU, local_run_dir("straight"), single_, false);
  straight.run();
  EXPECT_LT(
      relative_difference(to_vector(straight.parameters().params()), to_vector(second_half.parameters().params())),
      1e-5);
  EXPECT_LT(relative_difference(to_vector(straight.ema(0)), to_vector(second_half.ema(0))), 1e-5);
}

std::vector<ParameterEntry> layout_of(const model::ParameterStore& store) {
  std::vector<ParameterEntry> entries;
  for (int64_t i = 0; i < store.count(); ++i)
    entries.push_back({store.at(i).name, store.at(i).shape, store.at(i).offset});
  return entries;
}

TEST_F(DistributedTraining, ShardedOptimizerFollowsTheUnshardedOne) {
  Trainer plain(tiny({"train.steps=3"}), Device::CPU, run_dir("unsharded"), test_world(), false);
  plain.run();
  Trainer sharded(tiny({"train.steps=3", "train.shard_optimizer=true"}), Device::CPU, run_dir("sharded"), test_world(),
                  false);
  sharded.run();
  // Each rank keeps only its shard of the moments.
  const int64_t numel = sharded.parameters().numel();
  EXPECT_EQ(sharded.adam_m().numel(), sharded.shards().count(rank()));
  EXPECT_LT(sharded.adam_m().numel(), numel / world() + 2);
  EXPECT_LT(relative_difference(to_vector(plain.parameters().params()), to_vector(sharded.parameters().params())),
            1e-5);
  EXPECT_EQ(rank0_copy(sharded.parameters().params()), to_vector(sharded.parameters().params()));

  // The checkpoint holds the whole optimizer state, gathered from the shards.
  CheckpointBuffers whole{Tensor::empty({numel}), {}, Tensor::empty({numel}), Tensor::empty({numel})};
  read_checkpoint(checkpoint_path(run_dir("sharded"), 3), layout_of(sharded.parameters()), whole);
  EXPECT_LT(relative_difference(to_vector(plain.adam_m()), to_vector(whole.adam_m)), 1e-5);
  EXPECT_LT(relative_difference(to_vector(plain.adam_v()), to_vector(whole.adam_v)), 1e-5);
  const ShardLayout& shards = sharded.shards();
  EXPECT_EQ(to_vector(whole.adam_m.slice(shards.begin(rank()), shards.end(rank()))), to_vector(sharded.adam_m()));
  // And an unsharded run continues from it.
  Trainer unsharded(tiny({"train.steps=3"}), Device::CPU, run_dir("sharded"), test_world(), true);
  unsharded.resume_from(checkpoint_path(run_dir("sharded"), 3));
  EXPECT_EQ(to_vector(unsharded.adam_m()), to_vector(whole.adam_m));
  EXPECT_EQ(to_vector(unsharded.adam_v()), to_vector(whole.adam_v));
}

// The gradient reducer with bf16 on the wire: rank r's gradients (r + 1)(1 + 2^-12)
// round to r + 1 before they travel, so the sums are exact integers, while fp32
// keeps the 2^-12. Both modes: all-reduce and ZeRO-1's reduce-scatter.
TEST_F(DistributedTraining, Bf16ReductionRoundsTheGradientsItSends) {
  const Config config = tiny();
  model::ParameterStore store;
  model::UNet unet(unet_spec(config.model), store);
  store.finalize(Device::CPU);
  const float sum = static_cast<float>(world() * (world() + 1) / 2);
  const ShardLayout shards{store.numel(), world()};
  Tensor gradients = store.grads();
  for (const DType wire : {DType::F32, DType::BF16}) {
    const float expected = wire == DType::BF16 ? sum : sum * (1.0f + 0x1p-12f);
    fill(gradients, static_cast<float>(rank() + 1) * (1.0f + 0x1p-12f));
    {
      GradientReducer reducer(store, test_world(), config.train.bucket_mb, wire);
      reducer.arm();
      reducer.finish();
    }
    for (float value : to_vector(store.grads())) ASSERT_EQ(value, expected) << dtype_name(wire);

    fill(gradients, static_cast<float>(rank() + 1) * (1.0f + 0x1p-12f));
    const Tensor shard = Tensor::zeros({shards.count(rank())});
    {
      GradientReducer reducer(store, test_world(), config.train.bucket_mb, shards, shard, wire);
      reducer.arm();
      reducer.finish();
    }
    for (float value : to_vector(shard)) ASSERT_EQ(value, expected) << dtype_name(wire) << ", sharded";
  }
}

// Training with bf16 gradient reductions follows fp32 ones closely.
TEST_F(DistributedTraining, Bf16ReductionFollowsFp32) {
  for (const std::string sharded : {"false", "true"}) {
    Trainer fp32(tiny({"train.steps=3", "train.shard_optimizer=" + sharded}), Device::CPU,
                 run_dir("fp32-wire-" + sharded), test_world(), false);
    fp32.run();
    Trainer bf16(tiny({"train.steps=3", "train.shard_optimizer=" + sharded, "train.reduce_dtype=bf16"}), Device::CPU,
                 run_dir("bf16-wire-" + sharded), test_world(), false);
    bf16.run();
    const std::vector<float> reference = to_vector(fp32.parameters().params());
    const std::vector<float> params = to_vector(bf16.parameters().params());
    const double relative = relative_difference(reference, params);
    if (rank() == 0)
      std::printf("[bf16 wire] sharded %s, 3 steps: relative L2 difference to fp32 %.3e, largest %.3e\n",
                  sharded.c_str(), relative, largest_difference(reference, params));
    EXPECT_GT(relative, 0.0);
    EXPECT_LT(relative, 2e-4);
    EXPECT_EQ(rank0_copy(bf16.parameters().params()), params);
  }
}

TEST_F(DistributedTraining, ShardedResumeIsBitExact) {
  const Config config = tiny({"train.steps=4", "train.checkpoint_every=2", "train.shard_optimizer=true"});
  Trainer straight(config, Device::CPU, run_dir("sharded-straight"), test_world(), false);
  straight.run();
  {
    Trainer first_half(config, Device::CPU, run_dir("sharded-halves"), test_world(), false);
    first_half.run(2);
  }
  Trainer second_half(config, Device::CPU, run_dir("sharded-halves"), test_world(), true);
  second_half.resume_from(checkpoint_path(run_dir("sharded-halves"), 2));
  second_half.run();
  EXPECT_EQ(to_vector(second_half.parameters().params()), to_vector(straight.parameters().params()));
  EXPECT_EQ(to_vector(second_half.adam_m()), to_vector(straight.adam_m()));
  EXPECT_EQ(to_vector(second_half.adam_v()), to_vector(straight.adam_v()));
}

TEST_F(DistributedTraining, SampleGridDoesNotDependOnTheRankCount) {
  const Config config = tiny({"train.steps=1", "train.sample_every=1", "sample.steps=2", "sample.per_class=1"});
  Trainer distributed(config, Device::CPU, run_dir("grid"), test_world(), false);
  distributed.run();
  Trainer alone(config, Device::CPU, local_run_dir("grid"), single_, false);
  alone.run();
  if (rank() != 0) return;
  const auto bytes = [](const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(file), {});
  };
  const std::string grid = bytes(run_dir("grid") + "/samples/step-00000001.png");
  EXPECT_FALSE(grid.empty());
  EXPECT_EQ(grid, bytes(local_run_dir("grid") + "/samples/step-00000001.png"));
}

TEST_F(DistributedTraining, IndivisibleGlobalBatchFailsOnEveryRank) {
  const int batch = 2 * world() + 1;
  const std::string message = error_of([&] {
    Trainer trainer(tiny({"train.batch_size=" + std::to_string(batch)}), Device::CPU, run_dir("indivisible"),
                    test_world(), false);
  });
  EXPECT_NE(message.find(
                concat("train.batch_size ", batch, " is not divisible by ", world(), " ranks x train.accumulation 1")),
            std::string::npos)
      << message;
}

TEST_F(DistributedTraining, DifferentConfigsFailOnEveryRank) {
  const std::string message = error_of([&] {
    Trainer trainer(tiny({"train.lr=" + std::to_string(0.001 * (1 + rank()))}), Device::CPU, run_dir("mixed"),
                    test_world(), false);
  });
  EXPECT_NE(message.find("the ranks were started with different configurations"), std::string::npos) << message;
}

}  // namespace
}  // namespace diffuse
