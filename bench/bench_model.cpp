#include "bench/bench_model.h"

#include "core/ops.h"
#include "core/philox.h"
#include "optim/loss_scaler.h"
#include "run/model_setup.h"

namespace diffuse {

namespace {

PrecisionPolicy applied_precision(const Config& config, Device device) {
  const PrecisionPolicy policy = precision_policy(config.train.precision, device);
  apply_precision(policy);
  return policy;
}

}  // namespace

BenchModel::BenchModel(const Config& config_in, Device device, int batch, uint32_t first_sample, int global_batch)
    : config(config_in),
      precision(applied_precision(config, device)),
      spec(unet_spec(config.model)),
      setup(diffusion_setup(config)),
      unet(spec, store, precision.compute),
      loss_scale(1.0f / static_cast<float>(global_batch > 0 ? global_batch : batch)) {
  store.finalize(device);
  store.initialize(config.seed);
  optimizer = std::make_unique<AdamW>(store.params(), store.grads(), config.train.ema_rates);
  step_state = step_state_tensor(DynamicLossScaler::fixed().step_state(), device);
  micro.images = Tensor::empty({batch, spec.image_size, spec.image_size, spec.image_channels}, DType::F32, device);
  ops::fill_normal(micro.images, config.seed, kPurposeDataOrder, 0, first_sample);
  ops::clamp(micro.images, -1.0f, 1.0f, micro.images);
  if (spec.num_classes > 0) {
    micro.labels = Tensor::empty({batch}, DType::I32);
    for (int i = 0; i < batch; ++i) micro.labels.i32()[i] = static_cast<int32_t>((first_sample + i) % spec.num_classes);
  }
  micro.first_sample = first_sample;
}

void BenchModel::forward_backward() {
  store.update_compute_copy();
  train_micro_batch(unet, setup, config.seed, micro, loss_scale);
}

void BenchModel::update(int64_t step) {
  optimizer->decide(DynamicLossScaler::fixed().rule(config.train.grad_clip), step_state);
  ops::AdamWStep adam;
  adam.step = step;
  optimizer->step(adam, step_state);
}

}  // namespace diffuse
