// A whole training step of the tiny U-Net (configs/tiny.yaml: attention,
// dropout, class labels) on the GPU and on the CPU from the same parameters
// and batch: noising, forward, loss, backward, AdamW, and the loss of the
// updated model. fp32 agrees up to summation order; a U-Net computing in bf16
// or fp16 (activations and weight copies in that type) stays within a few
// percent of the fp32 CPU step, and every convolution pass and GEMM ran in it.
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

StepResult train_step(Device device, const Config& config, DType compute_dtype = DType::F32) {
  model::ParameterStore store;
  model::UNet unet(unet_spec(config.model), store, compute_dtype);
  store.finalize(device);
  copy(starting_parameters(store, config.seed), store.params());
  store.update_compute_copy();

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
  store.update_compute_copy();
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

class GpuLowPrecisionTraining : public ::testing::TestWithParam<DType> {};

TEST_P(GpuLowPrecisionTraining, StepStaysCloseToFp32Cpu) {
  DIFFUSE_REQUIRE_GPU();
  const DType dtype = GetParam();
  const Config config = tiny_config();
  const StepResult cpu = train_step(Device::CPU, config);
  const ScopedMatmulDtype products(dtype);  // the time embedding's f32 linears multiply in it too
  testing::reset_library_calls();
  const StepResult gpu = train_step(Device::CUDA, config, dtype);
  testing::expect_library_calls_in(dtype, true, "a low-precision training step");  // every conv pass and GEMM
  EXPECT_NEAR(gpu.loss, cpu.loss, 1e-2 * std::fabs(cpu.loss));
  // Every map is rounded to 8 (bf16) or 11 (fp16) bits once per layer: errors compound through the network
  // (tests/trainer/test_mixed_precision.cpp measures the same step on the CPU at 0.008 in bf16).
  EXPECT_LE(relative_error(gpu.grads, cpu.grads), 5e-2);
  EXPECT_NEAR(gpu.loss_after, cpu.loss_after, 1e-2 * std::fabs(cpu.loss_after));
}

INSTANTIATE_TEST_SUITE_P(Types, GpuLowPrecisionTraining, ::testing::Values(DType::BF16, DType::F16),
                         [](const ::testing::TestParamInfo<DType>& info) { return dtype_name(info.param); });

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
