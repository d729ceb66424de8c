#include "trainer/distillation_step.h"

#include <algorithm>
#include <vector>

#include "core/ops.h"
#include "core/philox.h"
#include "diffusion/distillation.h"
#include "model/layer_support.h"

namespace diffuse {

Tensor distill_micro_batch(model::UNet& student, model::UNet& teacher, const DiffusionSetup& setup, int student_steps,
                           uint64_t seed, const MicroBatch& batch, const ops::LossScale& loss_scale) {
  const Tensor& x = batch.images;
  const int64_t n = x.dim(0);
  const Device device = x.device();

  std::vector<DistillationLevels> levels;
  std::vector<float> alpha(n), sigma(n), input_scale(n), time(n), weight(n), output_from_z(n), output_from_target(n);
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t sample = batch.first_sample + static_cast<uint32_t>(i);
    const double u = random_uniform(RandomStream{seed, kPurposeTimestep, batch.step, sample}, 0);
    const int index = std::min(student_steps, 1 + static_cast<int>(u * student_steps));
    levels.push_back(distillation_levels(setup.schedule, index, student_steps));
    const NoiseLevel& level = levels.back().start;
    alpha[i] = static_cast<float>(level.alpha);
    sigma[i] = static_cast<float>(level.sigma);
    input_scale[i] = static_cast<float>(network_input_scale(setup.network, level));
    time[i] = network_time(setup.network, level);
    weight[i] = static_cast<float>(x_error_weight(setup.network, setup.weighting, level, setup.min_snr_gamma));
    const Mix output_target = student_output_target(setup.network, level);
    output_from_z[i] = static_cast<float>(output_target.first);
    output_from_target[i] = static_cast<float>(output_target.second);
  }
  const Tensor labels = conditioning_labels(setup, seed, batch);

  Tensor eps = Tensor::empty(x.shape(), DType::F32, device);
  Tensor z = Tensor::empty(x.shape(), DType::F32, device);
  ops::fill_normal(eps, seed, kPurposeNoise, batch.step, batch.first_sample);
  ops::combine_per_sample(x, per_sample(alpha, device), eps, per_sample(sigma, device), z);

  const model::ForwardContext teacher_context{false, seed, batch.step, batch.first_sample};
  const Denoiser run_teacher = [&](const Tensor& noisy, const Tensor& t, const Tensor& classes, const Tensor& out) {
    const model::NoBackward inference;  // the teacher is never differentiated
    copy(teacher.forward(noisy, t, classes, teacher_context), out);
  };
  const Tensor x_target = distillation_targets(run_teacher, setup.network, levels, z, labels);
  Tensor target = Tensor::empty(x.shape(), DType::F32, device);
  ops::combine_per_sample(z, per_sample(output_from_z, device), x_target, per_sample(output_from_target, device),
                          target);

  // An EDM student sees input_scale * z; a VP student z itself.
  Tensor input = z;
  if (setup.network.is_edm()) {
    input = Tensor::empty(x.shape(), DType::F32, device);
    ops::combine_per_sample(z, per_sample(input_scale, device), z, per_sample(std::vector<float>(n, 0.f), device),
                            input);
  }
  const model::ForwardContext context{true, seed, batch.step, batch.first_sample};
  return regress_output(student, input, per_sample(time, device), labels, context, target, per_sample(weight, device),
                        loss_scale);
}

}  // namespace diffuse
