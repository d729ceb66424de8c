// Evaluation samples by global index.
#include "eval/sample_generation.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "data/dataset_writer.h"

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

namespace {

uint8_t to_pixel(float value) {
  return static_cast<uint8_t>(std::lround((std::clamp(value, -1.0f, 1.0f) + 1.0f) * 127.5f));
}

}  // namespace

void quantize_to_8bit(const Tensor& images) {
  float* values = images.f32();
  for (int64_t i = 0; i < images.numel(); ++i) values[i] = static_cast<float>(to_pixel(values[i])) / 127.5f - 1.0f;
}

void write_image_dataset(const std::string& path, const Tensor& images, const Tensor& labels, int64_t num_classes,
                         const std::string& source) {
  DatasetInfo info;
  info.count = images.dim(0);
  info.height = images.dim(1);
  info.width = images.dim(2);
  info.channels = images.dim(3);
  info.has_labels = labels.defined();
  info.num_classes = labels.defined() ? num_classes : 0;
  info.source = source;
  std::vector<uint8_t> pixels(static_cast<size_t>(images.numel()));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = to_pixel(images.f32()[i]);
  DatasetWriter writer(path, info, Overwrite::Replace);
  writer.append(pixels.data(), labels.defined() ? labels.i32() : nullptr, info.count);
  writer.commit();
}

}  // namespace diffuse::eval
