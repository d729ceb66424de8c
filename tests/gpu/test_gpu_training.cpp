// A whole training step of the tiny U-Net (configs/tiny.yaml: attention,
// dropout, class labels) on the GPU and on the CPU from the same parameters
// and batch: noising, forward, loss, backward, AdamW, and the loss of the
// updated model. fp32 agrees up to summation order; with bf16 products the
// loss and the gradients stay within a few percent, and every convolution
// pass and GEMM ran in bf16.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#include "core/matmul_precision.h"
#include "core/ops.h"
#include "model/unet.h"
#include "run/model_setup.h"
#include "tests/gpu/gpu_testing.h"
#include "tests/support/op_testing.h"
#include "trainer/training_step.h"

namespace diffuse {
namespace {

using testing::copy_to;
using testing::relative_error;

struct StepResult {
  double loss = 0.0;        // the batch's summed loss before the update
  Tensor grads;             // the gradient buffer, on the CPU
  double loss_after = 0.0;  // the same batch's loss after one AdamW step
};

// Parameters as initialised plus a little noise, so that layers that start at
// zero (DDPM's output convolutions) pass gradients to everything before them.
Tensor starting_parameters(model::ParameterStore& store, uint64_t seed) {
  store.initialize(seed);
  Tensor values = copy_to(store.params(), Device::CPU);
  const Tensor noise = testing::random_tensor(values.shape(), seed + 1, -0.02f, 0.02f);
  ops::accumulate(values, noise);
  return values;
}

double summed(const Tensor& losses) {
  const std::vector<float> values = to_vector(losses);
  return std::accumulate(values.begin(), values.end(), 0.0);
}

StepResult train_step(Device device, const Config& config) {
  model::ParameterStore store;
  model::UNet unet(unet_spec(config.model), store);
  store.finalize(device);
  copy(starting_parameters(store, config.seed), store.params());

  const int64_t batch = 4, size = config.model.image_size, channels = config.model.image_channels;
  MicroBatch micro;
  micro.images = copy_to(testing::random_tensor({batch, size, size, channels}, 77), device);
  Tensor labels = Tensor::empty({batch}, DType::I32);
  for (int64_t i = 0; i < batch; ++i) labels.i32()[i] = static_cast<int32_t>((3 * i) % config.model.num_classes);
  micro.labels = labels;
  micro.step = 3;
  micro.first_sample = 8;
  const DiffusionSetup setup = diffusion_setup(config);

  StepResult result;
  store.zero_grads();
  result.loss = summed(train_micro_batch(unet, setup, config.seed, micro, 1.0f / batch));
  result.grads = copy_to(store.grads(), Device::CPU);

  Tensor m = Tensor::zeros({store.numel()}, DType::F32, device), v = Tensor::zeros({store.numel()}, DType::F32, device);
  ops::AdamWStep adam;
  adam.lr = 1e-4f;
  ops::adamw_update(store.params(), store.grads(), m, v, adam);
  store.zero_grads();
  result.loss_after = summed(train_micro_batch(unet, setup, config.seed, micro, 1.0f / batch));
  return result;
}

Config tiny_config() { return load_config(std::string(DIFFUSE_SOURCE_DIR) + "/configs/tiny.yaml"); }

TEST(GpuTraining, Fp32StepMatchesCpu) {
  DIFFUSE_REQUIRE_GPU();
  const Config config = tiny_config();
  const StepResult cpu = train_step(Device::CPU, config);
  const StepResult gpu = train_step(Device::CUDA, config);
  EXPECT_NEAR(gpu.loss, cpu.loss, 1e-5 * std::fabs(cpu.loss));
  EXPECT_LE(relative_error(gpu.grads, cpu.grads), 1e-4);
  EXPECT_NEAR(gpu.loss_after, cpu.loss_after, 1e-4 * std::fabs(cpu.loss_after));
  EXPECT_LT(cpu.loss_after, cpu.loss) << "one AdamW step on the same batch lowers its loss";
}

TEST(GpuTraining, Bf16StepStaysCloseToFp32Cpu) {
  DIFFUSE_REQUIRE_GPU();
  const Config config = tiny_config();
  const StepResult cpu = train_step(Device::CPU, config);
  const ScopedMatmulDtype products(DType::BF16);
  testing::reset_library_calls();
  const StepResult gpu = train_step(Device::CUDA, config);
  testing::expect_library_calls_in(DType::BF16, true, "a bf16 training step");  // every conv pass and GEMM
  EXPECT_NEAR(gpu.loss, cpu.loss, 1e-2 * std::fabs(cpu.loss));
  // Every layer's products round their inputs to bf16 (8 bits): errors compound through the network.
  EXPECT_LE(relative_error(gpu.grads, cpu.grads), 5e-2);
  EXPECT_NEAR(gpu.loss_after, cpu.loss_after, 1e-2 * std::fabs(cpu.loss_after));
}

// The same step twice on the GPU gives the same bits (deterministic algorithms and reductions).
TEST(GpuTraining, StepIsDeterministic) {
  DIFFUSE_REQUIRE_GPU();
  const Config config = tiny_config();
  const StepResult first = train_step(Device::CUDA, config);
  const StepResult second = train_step(Device::CUDA, config);
  EXPECT_EQ(first.loss, second.loss);
  EXPECT_EQ(to_vector(first.grads), to_vector(second.grads));
}

}  // namespace
}  // namespace diffuse
