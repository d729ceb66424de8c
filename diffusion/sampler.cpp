#include "diffusion/sampler.h"

#include <cmath>

#include "core/ops.h"
#include "core/philox.h"

namespace diffuse {

namespace {

Tensor constant(int64_t count, double value) {
  Tensor tensor = Tensor::empty({count});
  fill(tensor, static_cast<float>(value));
  return tensor;
}

// out = network output at this level, with guidance when asked for.
void guided_output(const Denoiser& denoiser, const Tensor& z, const Tensor& time, const Tensor& labels,
                   const SamplerOptions& options, const Tensor& out, const Tensor& scratch) {
  denoiser(z, time, labels, out);
  if (options.guidance == 0.0 || !labels.defined()) return;
  DIFFUSE_CHECK(options.null_label >= 0, "guidance needs a class-conditional model");
  Tensor null_labels = Tensor::empty(labels.shape(), DType::I32);
  for (int64_t n = 0; n < labels.numel(); ++n) null_labels.i32()[n] = options.null_label;
  denoiser(z, time, null_labels, scratch);
  const int64_t count = z.dim(0);
  ops::combine_per_sample(out, constant(count, 1.0 + options.guidance), scratch, constant(count, -options.guidance),
                          out);
}

}  // namespace

Tensor sample_images(const NoiseSchedule& schedule, Prediction prediction, const Denoiser& denoiser, const Shape& shape,
                     const Tensor& labels, const SamplerOptions& options) {
  DIFFUSE_CHECK(shape.size() == 4, "sample_images: shape must be [N,H,W,C], got ", shape_string(shape));
  DIFFUSE_CHECK(options.eta >= 0.0, "sampler eta must be >= 0, got ", options.eta);
  const int64_t count = shape[0];
  const std::vector<NoiseLevel> path = schedule.sampling_path(options.steps);

  Tensor z = Tensor::empty(shape), out = Tensor::empty(shape), scratch = Tensor::empty(shape);
  Tensor x0 = Tensor::empty(shape), eps = Tensor::empty(shape), noise = Tensor::empty(shape);
  Tensor time = Tensor::empty({count});
  ops::fill_normal(z, options.seed, kPurposeSampler, 0, options.first_sample);

  for (size_t k = 0; k + 1 < path.size(); ++k) {
    const NoiseLevel& now = path[k];
    const NoiseLevel& next = path[k + 1];
    fill(time, now.network_time);
    guided_output(denoiser, z, time, labels, options, out, scratch);

    // x_hat clipped to the data range, then eps re-derived from it so the step stays consistent.
    const Mix x_mix = x0_from_output(prediction, now);
    ops::combine_per_sample(z, constant(count, x_mix.first), out, constant(count, x_mix.second), x0);
    ops::clamp(x0, -1.0f, 1.0f, x0);
    if (next.sigma == 0.0) {
      z = x0;
      break;
    }
    ops::combine_per_sample(z, constant(count, 1.0 / now.sigma), x0, constant(count, -now.alpha / now.sigma), eps);

    // DDIM's sigma_t(eta): the fresh-noise scale of the step now -> next.
    const double ratio = (now.alpha * now.alpha) / (next.alpha * next.alpha);
    const double fresh = options.eta * (next.sigma / now.sigma) * std::sqrt(std::max(0.0, 1.0 - ratio));
    const double kept = std::sqrt(std::max(0.0, next.sigma * next.sigma - fresh * fresh));
    ops::combine_per_sample(x0, constant(count, next.alpha), eps, constant(count, kept), z);
    if (fresh > 0.0) {
      ops::fill_normal(noise, options.seed, kPurposeSampler, static_cast<uint32_t>(k + 1), options.first_sample);
      ops::combine_per_sample(z, constant(count, 1.0), noise, constant(count, fresh), z);
    }
  }
  return z;
}

}  // namespace diffuse
