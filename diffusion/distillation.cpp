#include "diffusion/distillation.h"

#include "core/error.h"
#include "core/on_device.h"
#include "core/ops.h"

namespace diffuse {

namespace {

// One value per sample, as an [n] tensor on `device`.
template <typename PerLevel>
Tensor per_sample(const std::vector<DistillationLevels>& levels, Device device, PerLevel&& value) {
  std::vector<float> values;
  values.reserve(levels.size());
  for (const DistillationLevels& level : levels) values.push_back(static_cast<float>(value(level)));
  return on_device(from_vector(values, {static_cast<int64_t>(values.size())}), device);
}

// One teacher DDIM step now -> next: the teacher's output at `now` turned into x_hat, then z_next.
template <typename Now, typename Next>
void teacher_step(const Denoiser& teacher, const Parameterization& network,
                  const std::vector<DistillationLevels>& levels, Now&& now, Next&& next, const Tensor& z,
                  const Tensor& labels, const Tensor& scratch, const Tensor& z_next) {
  const Device device = z.device();
  const Tensor time =
      per_sample(levels, device, [&](const DistillationLevels& l) { return network_time(network, now(l)); });
  if (network.is_edm()) {
    // The input scale differs per sample: input = scale * z + 0 * z.
    const Tensor input = Tensor::empty(z.shape(), DType::F32, device);
    const Tensor scale =
        per_sample(levels, device, [&](const DistillationLevels& l) { return network_input_scale(network, now(l)); });
    ops::combine_per_sample(z, scale, z, per_sample(levels, device, [](const DistillationLevels&) { return 0.0; }),
                            input);
    teacher(input, time, labels, scratch);
  } else {
    teacher(z, time, labels, scratch);
  }
  const auto x_mix = [&](const DistillationLevels& l) { return x0_from_network(network, now(l)); };
  // scratch becomes x_hat = a z + b output (no clipping).
  ops::combine_per_sample(
      z, per_sample(levels, device, [&](const DistillationLevels& l) { return x_mix(l).first; }), scratch,
      per_sample(levels, device, [&](const DistillationLevels& l) { return x_mix(l).second; }), scratch);
  const auto step = [&](const DistillationLevels& l) { return ddim_step(now(l), next(l)); };
  ops::combine_per_sample(
      z, per_sample(levels, device, [&](const DistillationLevels& l) { return step(l).first; }), scratch,
      per_sample(levels, device, [&](const DistillationLevels& l) { return step(l).second; }), z_next);
}

}  // namespace

bool halves_to(int from_steps, int to_steps) {
  if (to_steps < 1 || from_steps <= to_steps || from_steps % to_steps != 0) return false;
  const int ratio = from_steps / to_steps;
  return (ratio & (ratio - 1)) == 0;
}

DistillationLevels distillation_levels(const NoiseSchedule& schedule, int index, int student_steps) {
  DIFFUSE_CHECK(schedule.is_continuous(), "distillation needs the continuous-time schedule (cosine_continuous)");
  DIFFUSE_CHECK(student_steps >= 1 && index >= 1 && index <= student_steps, "distillation index ", index,
                " is outside [1, ", student_steps, "]");
  const double t = static_cast<double>(index) / student_steps;
  return {schedule.at_time(t), schedule.at_time(t - 0.5 / student_steps), schedule.at_time(t - 1.0 / student_steps)};
}

Mix ddim_step(const NoiseLevel& now, const NoiseLevel& next) {
  // z_next = alpha_next x_hat + sigma_next eps_hat with eps_hat = (z_now - alpha_now x_hat) / sigma_now.
  const double ratio = next.sigma / now.sigma;
  return {ratio, next.alpha - ratio * now.alpha};
}

Mix distillation_target(const DistillationLevels& levels) {
  const double ratio = levels.end.sigma / levels.start.sigma;
  const double denominator = levels.end.alpha - ratio * levels.start.alpha;
  return {-ratio / denominator, 1.0 / denominator};
}

Mix student_output_target(const Parameterization& network, const NoiseLevel& level) {
  // x_hat = a z + b o, so o* = (x~ - a z) / b.
  const Mix x_mix = x0_from_network(network, level);
  DIFFUSE_CHECK(x_mix.second != 0.0, "the ", network.is_edm() ? "EDM" : prediction_name(network.prediction),
                " output does not determine x at t = ", level.time);
  return {-x_mix.first / x_mix.second, 1.0 / x_mix.second};
}

Tensor distillation_targets(const Denoiser& teacher, const Parameterization& network,
                            const std::vector<DistillationLevels>& levels, const Tensor& z, const Tensor& labels) {
  DIFFUSE_CHECK(static_cast<int64_t>(levels.size()) == z.dim(0), "distillation targets: ", levels.size(),
                " noise levels for ", z.dim(0), " images");
  const Device device = z.device();
  const Tensor scratch = Tensor::empty(z.shape(), DType::F32, device);
  const Tensor z_mid = Tensor::empty(z.shape(), DType::F32, device);
  const Tensor z_end = Tensor::empty(z.shape(), DType::F32, device);
  const auto start = [](const DistillationLevels& l) -> const NoiseLevel& { return l.start; };
  const auto mid = [](const DistillationLevels& l) -> const NoiseLevel& { return l.mid; };
  const auto end = [](const DistillationLevels& l) -> const NoiseLevel& { return l.end; };
  teacher_step(teacher, network, levels, start, mid, z, labels, scratch, z_mid);
  teacher_step(teacher, network, levels, mid, end, z_mid, labels, scratch, z_end);
  Tensor target = Tensor::empty(z.shape(), DType::F32, device);
  ops::combine_per_sample(
      z, per_sample(levels, device, [](const DistillationLevels& l) { return distillation_target(l).first; }), z_end,
      per_sample(levels, device, [](const DistillationLevels& l) { return distillation_target(l).second; }), target);
  return target;
}

}  // namespace diffuse
