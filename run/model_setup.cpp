#include "run/model_setup.h"

#include <algorithm>

#include "model/layer_support.h"

namespace diffuse {

model::UNetSpec unet_spec(const ModelConfig& config) {
  model::UNetSpec spec;
  spec.image_size = config.image_size;
  spec.image_channels = config.image_channels;
  spec.channels = config.channels;
  spec.channel_mults = config.channel_mults;
  spec.num_res_blocks = config.num_res_blocks;
  spec.attention_resolutions = config.attention_resolutions;
  spec.dropout = static_cast<float>(config.dropout);
  spec.num_classes = config.num_classes;
  spec.groups = config.groups;
  spec.scale_shift_norm = config.scale_shift_norm;
  spec.num_heads = config.num_heads;
  spec.num_head_channels = config.num_head_channels;
  spec.resblock_updown = config.resblock_updown;
  return spec;
}

DiffusionSetup diffusion_setup(const Config& config) {
  const DiffusionConfig& diffusion = config.diffusion;
  const Parameterization network =
      diffusion.formulation != Formulation::kVp  // a consistency model's network is preconditioned as edm's
          ? Parameterization::edm(EdmPreconditioning{diffusion.sigma_data, diffusion.p_mean, diffusion.p_std})
          : Parameterization(diffusion.prediction);
  return DiffusionSetup{NoiseSchedule(diffusion.schedule, diffusion.timesteps),
                        network,
                        diffusion.loss_weight,
                        diffusion.min_snr_gamma,
                        diffusion.class_dropout,
                        config.model.num_classes};
}

Tensor sample_with_model(model::UNet& unet, const model::UNetSpec& spec, const DiffusionSetup& setup,
                         const SamplerOptions& options, const Tensor& labels, int64_t count, int64_t batch,
                         const ProgressCallback& progress) {
  if (labels.defined()) count = labels.dim(0);
  const int64_t size = spec.image_size, channels = spec.image_channels;
  Tensor images = Tensor::empty({count, size, size, channels});
  const model::ForwardContext context{false, options.seed, 0, 0};
  const Denoiser denoiser = [&](const Tensor& z, const Tensor& time, const Tensor& classes, const Tensor& out) {
    const model::NoBackward inference;  // sampling keeps no activations
    copy(unet.forward(z, time, classes, context), out);
  };
  for (int64_t first = 0; first < count; first += batch) {
    const int64_t end = std::min(count, first + batch);
    SamplerOptions chunk_options = options;
    chunk_options.first_sample = options.first_sample + static_cast<uint32_t>(first);
    chunk_options.null_label = spec.num_classes > 0 ? spec.num_classes : -1;
    chunk_options.device = unet.store().device();  // sampled where the model lives, returned on the host
    const Tensor chunk_labels = labels.defined() ? labels.slice(first, end) : Tensor();
    const Tensor chunk = sample_images(setup.schedule, setup.network, denoiser, {end - first, size, size, channels},
                                       chunk_labels, chunk_options);
    copy(chunk, images.slice(first, end));
    if (progress) progress(end);
  }
  return images;
}

}  // namespace diffuse
