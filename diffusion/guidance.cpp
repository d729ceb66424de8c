#include "diffusion/guidance.h"

#include "core/on_device.h"
#include "core/ops.h"

namespace diffuse {

Tensor per_sample_constant(int64_t count, double value, Device device) {
  Tensor tensor = Tensor::empty({count});
  fill(tensor, static_cast<float>(value));
  return on_device(tensor, device);
}

void guided_output(const Denoiser& denoiser, const Tensor& z, const Tensor& time, const Tensor& labels,
                   const SamplerOptions& options, const Tensor& out, const Tensor& scratch) {
  denoiser(z, time, labels, out);
  if (options.guidance == 0.0 || !labels.defined()) return;
  DIFFUSE_CHECK(options.null_label >= 0, "guidance needs a class-conditional model");
  Tensor null_labels = Tensor::empty(labels.shape(), DType::I32);
  for (int64_t n = 0; n < labels.numel(); ++n) null_labels.i32()[n] = options.null_label;
  denoiser(z, time, on_device(null_labels, options.device), scratch);
  const int64_t count = z.dim(0);
  const Device device = options.device;
  ops::combine_per_sample(out, per_sample_constant(count, 1.0 + options.guidance, device), scratch,
                          per_sample_constant(count, -options.guidance, device), out);
}

}  // namespace diffuse
