#include "bench/bench_model.h"

#include "core/ops.h"
#include "core/philox.h"
#include "run/model_setup.h"

namespace diffuse {

BenchModel::BenchModel(const Config& config_in, Device device, int batch, uint32_t first_sample)
    : config(config_in), spec(unet_spec(config.model)), setup(diffusion_setup(config)), unet(spec, store) {
  store.finalize(device);
  store.initialize(config.seed);
  const int64_t parameters = store.numel();
  adam_m = Tensor::zeros({parameters}, DType::F32, device);
  adam_v = Tensor::zeros({parameters}, DType::F32, device);
  for (size_t i = 0; i < config.train.ema_rates.size(); ++i) {
    ema.push_back(Tensor::empty({parameters}, DType::F32, device));
    copy(store.params(), ema.back());
  }
  micro.images = Tensor::empty({batch, spec.image_size, spec.image_size, spec.image_channels}, DType::F32, device);
  ops::fill_normal(micro.images, config.seed, kPurposeDataOrder, 0, first_sample);
  ops::clamp(micro.images, -1.0f, 1.0f, micro.images);
  if (spec.num_classes > 0) {
    micro.labels = Tensor::empty({batch}, DType::I32);
    for (int i = 0; i < batch; ++i) micro.labels.i32()[i] = static_cast<int32_t>((first_sample + i) % spec.num_classes);
  }
  micro.first_sample = first_sample;
}

void BenchModel::update(int64_t step) {
  ops::sum_of_squares(store.grads());  // the trainer's gradient-norm pass, part of every step
  ops::AdamWStep adam;
  adam.step = step;
  ops::adamw_update(store.params(), store.grads(), adam_m, adam_v, adam);
  for (size_t i = 0; i < ema.size(); ++i)
    ops::ema_update(ema[i], store.params(), static_cast<float>(config.train.ema_rates[i]));
}

}  // namespace diffuse
