// `diffuse train`'s Trainer with runtime.device cuda: a few steps of the tiny
// model on real Fashion-MNIST agree with the same steps on the CPU, and the
// GPU run's checkpoint resumes on the CPU with the GPU's weights. Without a
// GPU the test skips, saying why.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/on_device.h"
#include "tests/gpu/gpu_testing.h"
#include "tests/trainer/training_fixture.h"
#include "trainer/checkpoint.h"
#include "trainer/trainer.h"

namespace diffuse {
namespace {

double largest_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double largest = 0.0;
  for (size_t i = 0; i < a.size(); ++i) largest = std::max(largest, std::fabs(static_cast<double>(a[i]) - b[i]));
  return largest;
}

TEST_F(TrainingTest, GpuTrainingMatchesTheCpuAndItsCheckpointResumesThere) {
  DIFFUSE_REQUIRE_GPU();
  const std::vector<std::string> steps = {"train.steps=3", "train.checkpoint_every=3", "train.precision=fp32"};
  std::vector<std::string> on_gpu = steps, on_cpu = steps;
  on_gpu.push_back("runtime.device=cuda");
  on_cpu.push_back("runtime.device=cpu");
  Trainer gpu(tiny(on_gpu), run_dir("gpu"), communicator_, false);
  gpu.run();
  Trainer cpu(tiny(on_cpu), run_dir("cpu"), communicator_, false);
  cpu.run();
  ASSERT_EQ(gpu.parameters().device(), Device::CUDA);
  const std::vector<float> gpu_params = to_vector(on_device(gpu.parameters().params(), Device::CPU));
  // Three AdamW steps of lr 1e-3 from the same start; the devices differ in summation order only, which AdamW's
  // normalised step keeps at a small fraction of lr.
  EXPECT_LT(largest_difference(gpu_params, to_vector(cpu.parameters().params())), 1e-4);

  Trainer resumed(tiny(on_cpu), run_dir("gpu"), communicator_, true);
  resumed.resume_from(newest_checkpoint(run_dir("gpu")));
  EXPECT_EQ(resumed.step(), 3);
  EXPECT_EQ(to_vector(resumed.parameters().params()), gpu_params);
  EXPECT_EQ(to_vector(resumed.ema(0)), to_vector(on_device(gpu.ema(0), Device::CPU)));
  EXPECT_EQ(to_vector(resumed.adam_v()), to_vector(on_device(gpu.adam_v(), Device::CPU)));
}

}  // namespace
}  // namespace diffuse
