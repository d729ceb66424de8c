#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/checkpoint.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    run_dir_ = fs::temp_directory_path() / ("diffuse-ckpt-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(run_dir_);
    fs::create_directories(run_dir_ / "checkpoints");
  }
  void TearDown() override { fs::remove_all(run_dir_); }

  static std::vector<ParameterEntry> layout() {
    return {{"conv_in.weight", {4, 3, 3, 2}, 0}, {"conv_in.bias", {4}, 72}, {"out.gamma", {3}, 76}};
  }
  static Tensor filled(float start) {
    Tensor buffer = Tensor::empty({79});
    for (int i = 0; i < 79; ++i) buffer.f32()[i] = start + i;
    return buffer;
  }

  fs::path run_dir_;
};

TEST_F(CheckpointTest, RoundTripsEverything) {
  CheckpointMeta meta;
  meta.step = 1234;
  meta.epoch = 3;
  meta.samples_seen = 1234 * 64;
  meta.world_size = 4;
  meta.loss_scale = 65536.0;
  meta.loss_scale_good_steps = 17;
  meta.seed = 0xfeedfacecafebeefull;
  meta.config_yaml = "train:\n  steps: 5\n";
  meta.sampling_steps = 8;
  const CheckpointBuffers written{filled(0), {{0.999, filled(100)}, {0.9999, filled(200)}}, filled(300), filled(400)};
  const std::string path = checkpoint_path(run_dir_.string(), meta.step);
  EXPECT_EQ(fs::path(path).filename(), "ckpt-00001234.h5");
  write_checkpoint(path, layout(), meta, written);

  const CheckpointMeta read_meta = read_checkpoint_meta(path);
  EXPECT_EQ(read_meta.step, 1234);
  EXPECT_EQ(read_meta.epoch, 3);
  EXPECT_EQ(read_meta.samples_seen, 1234 * 64);
  EXPECT_EQ(read_meta.world_size, 4);
  EXPECT_EQ(read_meta.loss_scale, 65536.0);
  EXPECT_EQ(read_meta.loss_scale_good_steps, 17);
  EXPECT_EQ(read_meta.seed, 0xfeedfacecafebeefull);
  EXPECT_EQ(read_meta.config_yaml, meta.config_yaml);
  EXPECT_EQ(read_meta.sampling_steps, 8);
  EXPECT_EQ(checkpoint_ema_rates(path), (std::vector<double>{0.999, 0.9999}));

  CheckpointBuffers read{
      Tensor::zeros({79}), {{0.9999, Tensor::zeros({79})}}, Tensor::zeros({79}), Tensor::zeros({79})};
  read_checkpoint(path, layout(), read);
  EXPECT_EQ(to_vector(read.params), to_vector(written.params));
  EXPECT_EQ(to_vector(read.ema[0].second), to_vector(written.ema[1].second));
  EXPECT_EQ(to_vector(read.adam_m), to_vector(written.adam_m));
  EXPECT_EQ(to_vector(read.adam_v), to_vector(written.adam_v));
}

TEST_F(CheckpointTest, AnotherArchitectureNamesTheFirstMismatchedParameter) {
  const std::string path = checkpoint_path(run_dir_.string(), 1);
  write_checkpoint(path, layout(), CheckpointMeta{}, CheckpointBuffers{filled(0), {}, {}, {}});
  std::vector<ParameterEntry> other = layout();
  other[1].shape = {5};
  CheckpointBuffers read{Tensor::zeros({80}), {}, {}, {}};
  try {
    read_checkpoint(path, other, read);
    FAIL() << "a shape mismatch must throw";
  } catch (const diffuse::Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("checkpoint " + path), std::string::npos) << message;
    EXPECT_NE(message.find("'conv_in.bias' has shape [5] in this model but [4]"), std::string::npos) << message;
  }
  other = layout();
  other[2].name = "out.norm.gamma";
  try {
    read_checkpoint(path, other, read);
    FAIL() << "a missing parameter must throw";
  } catch (const diffuse::Error& error) {
    EXPECT_NE(std::string(error.what()).find("'out.norm.gamma' of this model is not in /params"), std::string::npos)
        << error.what();
  }
}

TEST_F(CheckpointTest, NewestIgnoresTemporariesAndPruneKeepsNewest) {
  for (int64_t step : {10, 30, 20})
    write_checkpoint(checkpoint_path(run_dir_.string(), step), layout(), CheckpointMeta{},
                     CheckpointBuffers{filled(0), {}, {}, {}});
  std::ofstream(checkpoint_path(run_dir_.string(), 40) + ".tmp") << "half written";
  EXPECT_EQ(newest_checkpoint(run_dir_.string()), checkpoint_path(run_dir_.string(), 30));
  prune_checkpoints(run_dir_.string(), 2);
  EXPECT_FALSE(fs::exists(checkpoint_path(run_dir_.string(), 10)));
  EXPECT_TRUE(fs::exists(checkpoint_path(run_dir_.string(), 20)));
  EXPECT_TRUE(fs::exists(checkpoint_path(run_dir_.string(), 30)));
  EXPECT_EQ(newest_checkpoint((run_dir_ / "elsewhere").string()), "");
}

TEST_F(CheckpointTest, TruncatedFileIsAnErrorNamingIt) {
  const std::string path = checkpoint_path(run_dir_.string(), 5);
  write_checkpoint(path, layout(), CheckpointMeta{}, CheckpointBuffers{filled(0), {}, {}, {}});
  fs::resize_file(path, fs::file_size(path) / 2);
  try {
    read_checkpoint_meta(path);
    FAIL() << "a truncated checkpoint must throw";
  } catch (const diffuse::Error& error) {
    EXPECT_NE(std::string(error.what()).find(path), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace diffuse
