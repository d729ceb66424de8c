// Mixed precision end to end: a training step of configs/tiny.yaml's U-Net
// computing in bf16 (activations, gradients between layers and the products'
// weights in bf16; statistics, loss, parameter gradients fp32) against the
// same step in fp32, from the same weights and batch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/philox.h"
#include "model/unet.h"
#include "run/config.h"
#include "run/model_setup.h"
#include "tests/model/model_testing.h"
#include "tests/support/op_testing.h"
#include "trainer/training_step.h"

namespace diffuse {
namespace {

struct StepResult {
  Tensor losses;     // per sample
  Tensor gradients;  // a copy of the flat fp32 gradient buffer
  Tensor output;     // the U-Net's output on the step's batch (training forward)
};

// One micro-step (forward, weighted MSE, backward) of a batch of 8 at loss scale 1/8, the U-Net computing in
// `dtype`. Every layer starts "live" (no near-zero init), so every path carries gradient.
StepResult training_step_in(DType dtype) {
  const Config config = load_config(std::string(DIFFUSE_SOURCE_DIR) + "/configs/tiny.yaml");
  model::ParameterStore store;
  model::UNet unet(unet_spec(config.model), store, dtype);
  store.finalize(Device::CPU);
  testing::randomize_parameters(store, 11);
  store.update_compute_copy();

  const model::UNetSpec& spec = unet.spec();
  MicroBatch batch;
  batch.images = testing::random_tensor({8, spec.image_size, spec.image_size, spec.image_channels}, 5);
  batch.labels = Tensor::empty({8}, DType::I32);
  for (int i = 0; i < 8; ++i) batch.labels.i32()[i] = i % spec.num_classes;
  batch.step = 3;
  const DiffusionSetup setup = diffusion_setup(config);
  StepResult result;
  result.losses = train_micro_batch(unet, setup, config.seed, batch, ops::LossScale(1.0f / 8));
  result.gradients = testing::copy_to(store.grads(), Device::CPU);
  const Tensor x = testing::random_tensor(batch.images.shape(), 6);
  const Tensor t = from_vector(std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f}, {8});
  {
    const model::NoBackward inference;
    result.output = unet.forward(x, t, batch.labels, {true, config.seed, 3, 0});
  }
  return result;
}

TEST(MixedPrecision, Bf16TrainingStepStaysNearTheFp32Step) {
  const StepResult fp32 = training_step_in(DType::F32);
  const StepResult bf16 = training_step_in(DType::BF16);
  ASSERT_EQ(bf16.gradients.numel(), fp32.gradients.numel());
  const double output = testing::relative_error(bf16.output, fp32.output);
  const double losses = testing::relative_error(bf16.losses, fp32.losses);
  const double gradients = testing::relative_error(bf16.gradients, fp32.gradients);
  std::printf("bf16 against fp32: output %.4f, per-sample losses %.4f, gradients %.4f (relative L2)\n", output, losses,
              gradients);
  // bf16 keeps 8 significant bits: each rounding moves a value by at most u = 2^-8 relative (2^-9 to nearest, but
  // an operand and a result are each rounded). The step rounds every map once per layer along a path of about
  // D = 40 layers (forward and backward), and independent rounding errors add like a random walk, so the relative
  // distance should be of the order of u sqrt(D) = 0.025; the bounds allow twice that (four times for the
  // gradients, which pass through every layer of both passes). Measured: output 0.012, losses 0.0005, gradients
  // 0.008. A missing (zero) weight copy, or a layer reading the wrong map, moves them by order 1.
  constexpr double kUnitRoundoff = 1.0 / 256;
  EXPECT_LT(output, 2 * kUnitRoundoff * std::sqrt(40.0));
  EXPECT_LT(losses, 2 * kUnitRoundoff * std::sqrt(40.0));
  EXPECT_LT(gradients, 4 * kUnitRoundoff * std::sqrt(40.0));
  EXPECT_GT(gradients, 0.0) << "the bf16 step rounds";
}

}  // namespace
}  // namespace diffuse
