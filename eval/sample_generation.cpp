// Evaluation samples by global index.
#include "eval/sample_generation.h"

#include "io/pixels.h"
#include "run/model_setup.h"

namespace diffuse::eval {

Tensor evaluation_labels(int num_classes, int64_t begin, int64_t end) {
  if (num_classes <= 0) return Tensor();
  Tensor labels = Tensor::empty({end - begin}, DType::I32);
  for (int64_t i = begin; i < end; ++i) labels.i32()[i - begin] = static_cast<int32_t>(i % num_classes);
  return labels;
}

Tensor generate_samples(model::UNet& unet, const DiffusionSetup& setup, const SamplerOptions& options, int64_t begin,
                        int64_t end, int64_t batch) {
  SamplerOptions from_begin = options;
  from_begin.first_sample = static_cast<uint32_t>(begin);
  return sample_with_model(unet, unet.spec(), setup, from_begin, evaluation_labels(unet.spec().num_classes, begin, end),
                           end - begin, batch);
}

void quantize_to_8bit(const Tensor& images) {
  float* values = images.f32();
  for (int64_t i = 0; i < images.numel(); ++i) values[i] = from_pixel(to_pixel(values[i]));
}

}  // namespace diffuse::eval
