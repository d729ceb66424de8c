#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/hdf5.h"
#include "tests/support/op_testing.h"
#include "tests/support/scratch_directory.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(run_dir_ / "checkpoints"); }

  static std::vector<ParameterEntry> layout() {
    return {{"conv_in.weight", {4, 3, 3, 2}, 0}, {"conv_in.bias", {4}, 72}, {"out.gamma", {3}, 76}};
  }
  static Tensor filled(float start) {
    Tensor buffer = Tensor::empty({79});
    for (int i = 0; i < 79; ++i) buffer.f32()[i] = start + i;
    return buffer;
  }

  // A whole HDF5 file in the checkpoint format whose EMA group lacks the last parameter.
  static void write_without_last_ema_parameter(const std::string& path) {
    Hdf5File file = Hdf5File::create(path);
    file.set_attribute("format_version", int32_t{kCheckpointFormatVersion});
    for (const char* name : {"step", "epoch", "samples_seen", "world_size", "loss_scale_good_steps"})
      file.set_attribute(name, int64_t{0});
    file.set_attribute("loss_scale", 1.0);
    file.set_attribute("seed", uint64_t{0});
    file.set_attribute("config", std::string());
    const Tensor values = filled(0);
    for (const ParameterEntry& entry : layout()) {
      file.write("/params/" + entry.name, entry.shape, values.f32() + entry.offset);
      if (entry.name != layout().back().name)
        file.write("/ema/0.999/" + entry.name, entry.shape, values.f32() + entry.offset);
    }
    file.commit();
  }

  testing::ScratchDirectory scratch_{"ckpt"};
  const fs::path run_dir_ = scratch_.path();
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
  meta.method = "consistency";
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
  EXPECT_EQ(read_meta.method, "consistency");
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

TEST_F(CheckpointTest, OnlyNamesOfDigitsCountAndTheySortByStep) {
  const std::string run = run_dir_.string();
  const auto write_at = [&](const std::string& name) {
    write_checkpoint((run_dir_ / "checkpoints" / name).string(), layout(), CheckpointMeta{},
                     CheckpointBuffers{filled(0), {}, {}, {}});
  };
  for (const char* name : {"ckpt-9.h5", "ckpt-10.h5", "ckpt-99999999.h5", "ckpt-100000000.h5", "ckpt-best.h5",
                           "ckpt-.h5", "ckpt-12a.h5", "ckpt--5.h5"})
    write_at(name);
  const std::string in = (run_dir_ / "checkpoints").string() + "/";
  EXPECT_EQ(list_checkpoints(run), (std::vector<std::string>{in + "ckpt-9.h5", in + "ckpt-10.h5",
                                                             in + "ckpt-99999999.h5", in + "ckpt-100000000.h5"}));
  EXPECT_EQ(newest_checkpoint(run), in + "ckpt-100000000.h5");
}

TEST_F(CheckpointTest, PruningLeavesOtherFilesAlone) {
  const std::string run = run_dir_.string();
  for (int64_t step : {10, 20, 30})
    write_checkpoint(checkpoint_path(run, step), layout(), CheckpointMeta{}, CheckpointBuffers{filled(0), {}, {}, {}});
  const fs::path best = run_dir_ / "checkpoints" / "ckpt-best.h5";
  fs::copy_file(checkpoint_path(run, 10), best);
  prune_checkpoints(run, 1);
  EXPECT_TRUE(fs::exists(best));
  EXPECT_FALSE(fs::exists(checkpoint_path(run, 10)));
  EXPECT_FALSE(fs::exists(checkpoint_path(run, 20)));
  EXPECT_TRUE(fs::exists(checkpoint_path(run, 30)));
}

TEST_F(CheckpointTest, NonFiniteWeightsAreAnErrorNamingTheParameter) {
  const std::string path = checkpoint_path(run_dir_.string(), 1);
  Tensor ema = filled(100);
  ema.f32()[77] = std::nanf("");
  write_checkpoint(path, layout(), CheckpointMeta{}, CheckpointBuffers{filled(0), {{0.999, ema}}, {}, {}});
  CheckpointBuffers read{Tensor::zeros({79}), {{0.999, Tensor::zeros({79})}}, {}, {}};
  try {
    read_checkpoint(path, layout(), read);
    FAIL() << "a NaN must throw";
  } catch (const diffuse::Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("checkpoint " + path), std::string::npos) << message;
    EXPECT_NE(message.find("parameter 'out.gamma' in /ema/0.999 holds nan"), std::string::npos) << message;
  }
  Tensor params = filled(0);
  params.f32()[3] = -INFINITY;
  write_checkpoint(path, layout(), CheckpointMeta{}, CheckpointBuffers{params, {}, {}, {}});
  CheckpointBuffers params_only{Tensor::zeros({79}), {}, {}, {}};
  try {
    read_checkpoint(path, layout(), params_only);
    FAIL() << "an infinity must throw";
  } catch (const diffuse::Error& error) {
    EXPECT_NE(std::string(error.what()).find("parameter 'conv_in.weight' in /params holds -inf"), std::string::npos)
        << error.what();
  }
}

TEST_F(CheckpointTest, NewestCompleteFallsBackPastBrokenCheckpoints) {
  const std::string run = run_dir_.string();
  for (int64_t step : {10, 20, 30})
    write_checkpoint(checkpoint_path(run, step), layout(), CheckpointMeta{},
                     CheckpointBuffers{filled(0), {{0.999, filled(1)}}, filled(2), filled(3)});
  fs::resize_file(checkpoint_path(run, 30), fs::file_size(checkpoint_path(run, 30)) / 2);
  write_without_last_ema_parameter(checkpoint_path(run, 20));
  const std::string truncated = testing::error_message([&] { check_checkpoint_complete(checkpoint_path(run, 30)); });
  EXPECT_NE(truncated.find("checkpoint " + checkpoint_path(run, 30)), std::string::npos) << truncated;
  const std::string missing = testing::error_message([&] { check_checkpoint_complete(checkpoint_path(run, 20)); });
  EXPECT_NE(missing.find("dataset /ema/0.999/out.gamma is missing"), std::string::npos) << missing;
  EXPECT_EQ(newest_complete_checkpoint(run), checkpoint_path(run, 10));
  EXPECT_TRUE(fs::exists(checkpoint_path(run, 30))) << "a broken checkpoint is left on disk";

  fs::resize_file(checkpoint_path(run, 10), 100);
  const std::string none = testing::error_message([&] { newest_complete_checkpoint(run); });
  EXPECT_NE(none.find("none of the 3 checkpoint(s) in " + run + "/checkpoints is complete"), std::string::npos) << none;
  EXPECT_EQ(newest_complete_checkpoint((run_dir_ / "elsewhere").string()), "");
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
