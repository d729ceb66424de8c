// Evaluation samples by global index.
#include "eval/sample_generation.h"

#include <algorithm>

#include "data/pixels.h"

namespace diffuse::eval {

Tensor evaluation_labels(int num_classes, int64_t begin, int64_t end) {
  if (num_classes <= 0) return Tensor();
  Tensor labels = Tensor::empty({end - begin}, DType::I32);
  for (int64_t i = begin; i < end; ++i) labels.i32()[i - begin] = static_cast<int32_t>(i % num_classes);
  return labels;
}

Tensor generate_samples(model::UNet& unet, const DiffusionSetup& setup, const SamplerOptions& options, int64_t begin,
                        int64_t end, int64_t batch) {
  const model::UNetSpec& spec = unet.spec();
  const int64_t size = spec.image_size, channels = spec.image_channels;
  Tensor images = Tensor::empty({end - begin, size, size, channels});
  const model::ForwardContext context{false, options.seed, 0, 0};
  const Denoiser denoiser = [&](const Tensor& z, const Tensor& time, const Tensor& classes, const Tensor& out) {
    copy(unet.forward(z, time, classes, context), out);
  };
  for (int64_t first = begin; first < end; first += batch) {
    const int64_t last = std::min(end, first + batch);
    SamplerOptions chunk = options;
    chunk.first_sample = static_cast<uint32_t>(first);
    chunk.null_label = spec.num_classes > 0 ? spec.num_classes : -1;
    const Tensor drawn = sample_images(setup.schedule, setup.prediction, denoiser, {last - first, size, size, channels},
                                       evaluation_labels(spec.num_classes, first, last), chunk);
    copy(drawn, images.slice(first - begin, last - begin));
  }
  return images;
}

void quantize_to_8bit(const Tensor& images) {
  float* values = images.f32();
  for (int64_t i = 0; i < images.numel(); ++i) values[i] = from_pixel(to_pixel(values[i]));
}

}  // namespace diffuse::eval
