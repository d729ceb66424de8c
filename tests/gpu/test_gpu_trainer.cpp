// `diffuse train`'s Trainer with runtime.device cuda: a few steps of the tiny
// model agree with the same steps on the CPU, and the GPU run's checkpoint
// resumes on the CPU with the GPU's weights. The data is a small file of
// random images written here, so the test needs no dataset package (GPU
// machines may have none). Without a GPU it skips, saying why.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/on_device.h"
#include "data/dataset_writer.h"
#include "distributed/communicator.h"
#include "io/checkpoint.h"
#include "run/checkpoint_model.h"
#include "tests/gpu/gpu_testing.h"
#include "tests/support/op_testing.h"
#include "trainer/trainer.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

double largest_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double largest = 0.0;
  for (size_t i = 0; i < a.size(); ++i) largest = std::max(largest, std::fabs(static_cast<double>(a[i]) - b[i]));
  return largest;
}

TEST(GpuTrainer, MatchesTheCpuAndItsCheckpointResumesThere) {
  DIFFUSE_REQUIRE_GPU();
  const fs::path root = fs::temp_directory_path() / ("diffuse-gpu-trainer-" + std::to_string(::getpid()));
  fs::create_directories(root);
  // 64 random 32x32 grayscale images of 10 classes: the shape configs/tiny.yaml trains on.
  const Tensor images = testing::random_tensor({64, 32, 32, 1}, 7);
  Tensor labels = Tensor::empty({64}, DType::I32);
  for (int64_t i = 0; i < 64; ++i) labels.i32()[i] = static_cast<int32_t>(i % 10);
  const std::string data = (root / "random.h5").string();
  write_image_dataset(data, images, labels, 10, "random test images", Overwrite::Replace);

  const auto config = [&](const std::string& device) {
    return load_config(std::string(DIFFUSE_SOURCE_DIR) + "/configs/tiny.yaml",
                       {"data.train=" + data, "train.steps=3", "train.checkpoint_every=3", "train.precision=fp32",
                        "runtime.device=" + device});
  };
  SingleProcessCommunicator communicator;
  Trainer gpu(config("cuda"), Device::CUDA, (root / "gpu").string(), communicator, false);
  gpu.run();
  Trainer cpu(config("cpu"), Device::CPU, (root / "cpu").string(), communicator, false);
  cpu.run();
  ASSERT_EQ(gpu.parameters().device(), Device::CUDA);
  const std::vector<float> gpu_params = to_vector(on_device(gpu.parameters().params(), Device::CPU));
  // Three AdamW steps of lr 1e-3 from the same start; the devices differ in summation order only, which AdamW's
  // normalised step keeps at a small fraction of lr.
  EXPECT_LT(largest_difference(gpu_params, to_vector(cpu.parameters().params())), 1e-4);

  Trainer resumed(config("cpu"), Device::CPU, (root / "gpu").string(), communicator, true);
  resumed.resume_from(newest_checkpoint((root / "gpu").string()));
  EXPECT_EQ(resumed.step(), 3);
  EXPECT_EQ(to_vector(resumed.parameters().params()), gpu_params);
  EXPECT_EQ(to_vector(resumed.ema(0)), to_vector(on_device(gpu.ema(0), Device::CPU)));
  EXPECT_EQ(to_vector(resumed.adam_v()), to_vector(on_device(gpu.adam_v(), Device::CPU)));
  // The checkpoint as `sample` and `eval` load it onto the GPU: its EMA weights, bit for bit.
  const std::unique_ptr<CheckpointModel> loaded =
      load_checkpoint_model(newest_checkpoint((root / "gpu").string()), "first", Device::CUDA);
  EXPECT_EQ(loaded->store.params().device(), Device::CUDA);
  EXPECT_EQ(to_vector(on_device(loaded->store.params(), Device::CPU)), to_vector(resumed.ema(0)));
  fs::remove_all(root);
}

}  // namespace
}  // namespace diffuse
