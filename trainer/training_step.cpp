#include "trainer/training_step.h"

#include <vector>

#include "core/on_device.h"
#include "core/ops.h"
#include "core/philox.h"

namespace diffuse {

Tensor per_sample(const std::vector<float>& values, Device device) {
  return on_device(from_vector(values, {static_cast<int64_t>(values.size())}), device);
}

Tensor conditioning_labels(const DiffusionSetup& setup, uint64_t seed, const MicroBatch& batch) {
  if (setup.num_classes == 0) return Tensor();
  DIFFUSE_CHECK(batch.labels.defined(), "a class-conditional model needs a dataset with labels");
  DIFFUSE_CHECK(batch.labels.device() == Device::CPU, "micro-batch labels belong on the host, got ",
                batch.labels.describe());
  const int64_t n = batch.images.dim(0);
  Tensor host_labels = Tensor::empty({n}, DType::I32);
  const int32_t* given = batch.labels.i32();
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t sample = batch.first_sample + static_cast<uint32_t>(i);
    const bool dropped =
        random_uniform(RandomStream{seed, kPurposeClassDrop, batch.step, sample}, 0) < setup.class_dropout;
    host_labels.i32()[i] = dropped ? setup.num_classes : given[i];
  }
  return on_device(host_labels, batch.images.device());
}

NoiseLevel training_level(const DiffusionSetup& setup, const RandomStream& stream) {
  if (setup.network.is_edm())
    return level_at_ve_sigma(setup.network.preconditioning.training_sigma(random_normal(stream, 0)));
  return setup.schedule.training_level(random_uniform(stream, 0));
}

Tensor regress_output(model::UNet& unet, const Tensor& z, const Tensor& time, const Tensor& labels,
                      const model::ForwardContext& context, const Tensor& target, const Tensor& weights,
                      const ops::LossScale& loss_scale) {
  const int64_t n = z.dim(0);
  const Tensor out = unet.forward(z, time, labels, context);
  Tensor losses = Tensor::empty({n}, DType::F32, z.device());
  Tensor dout = Tensor::empty(z.shape(), DType::F32, z.device());
  ops::mse_loss_forward(out, target, weights, losses);
  ops::mse_loss_backward(out, target, weights, loss_scale, dout);
  unet.backward(dout);
  return losses;
}

Tensor train_micro_batch(model::UNet& unet, const DiffusionSetup& setup, uint64_t seed, const MicroBatch& batch,
                         const ops::LossScale& loss_scale) {
  const Tensor& x = batch.images;
  const int64_t n = x.dim(0);
  const Device device = x.device();

  std::vector<float> alpha(n), sigma(n), time(n), weight(n), target_x(n), target_eps(n);
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t sample = batch.first_sample + static_cast<uint32_t>(i);
    const NoiseLevel level = training_level(setup, RandomStream{seed, kPurposeTimestep, batch.step, sample});
    // The network input is input_scale * z = input_scale (alpha x + sigma eps).
    const double input_scale = network_input_scale(setup.network, level);
    alpha[i] = static_cast<float>(input_scale * level.alpha);
    sigma[i] = static_cast<float>(input_scale * level.sigma);
    time[i] = network_time(setup.network, level);
    weight[i] = static_cast<float>(training_weight(setup.network, setup.weighting, level, setup.min_snr_gamma));
    const Mix target = training_target(setup.network, level);
    target_x[i] = static_cast<float>(target.first);
    target_eps[i] = static_cast<float>(target.second);
  }

  const Tensor class_labels = conditioning_labels(setup, seed, batch);

  Tensor eps = Tensor::empty(x.shape(), DType::F32, device);
  Tensor input = Tensor::empty(x.shape(), DType::F32, device);
  Tensor target = Tensor::empty(x.shape(), DType::F32, device);
  ops::fill_normal(eps, seed, kPurposeNoise, batch.step, batch.first_sample);
  ops::combine_per_sample(x, per_sample(alpha, device), eps, per_sample(sigma, device), input);
  ops::combine_per_sample(x, per_sample(target_x, device), eps, per_sample(target_eps, device), target);

  const model::ForwardContext context{true, seed, batch.step, batch.first_sample};
  return regress_output(unet, input, per_sample(time, device), class_labels, context, target,
                        per_sample(weight, device), loss_scale);
}

}  // namespace diffuse
