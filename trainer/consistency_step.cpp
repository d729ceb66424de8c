#include "trainer/consistency_step.h"

#include <algorithm>
#include <vector>

#include "core/ops.h"
#include "core/philox.h"
#include "model/layer_support.h"

namespace diffuse {

namespace {

// What a network evaluation of the consistency function at per-sample levels needs: its input and time, and
// f = f_x * x + f_out * o.
struct ConsistencyCall {
  Tensor input, time, f_x, f_out;
};

ConsistencyCall consistency_call(const DiffusionSetup& setup, double sigma_min, const std::vector<double>& sigmas,
                                 const Tensor& x) {
  const size_t n = sigmas.size();
  std::vector<float> input_scale(n), time(n), f_x(n), f_out(n), zeros(n, 0.f);
  for (size_t i = 0; i < n; ++i) {
    const NoiseLevel level = setup.schedule.at_ve_sigma(sigmas[i]);
    // The network sees input_scale * z with z = alpha x.
    input_scale[i] = static_cast<float>(network_input_scale(setup.network, level) * level.alpha);
    time[i] = network_time(setup.network, level);
    const Mix f = consistency_output(setup.network, level, sigma_min);
    f_x[i] = static_cast<float>(f.first);
    f_out[i] = static_cast<float>(f.second);
  }
  const Device device = x.device();
  ConsistencyCall call{Tensor::empty(x.shape(), DType::F32, device), per_sample(time, device), per_sample(f_x, device),
                       per_sample(f_out, device)};
  ops::combine_per_sample(x, per_sample(input_scale, device), x, per_sample(zeros, device), call.input);
  return call;
}

}  // namespace

ConsistencyObjective consistency_objective(const Config& config, const DiffusionSetup& setup, bool training) {
  ConsistencyObjective objective;
  const SigmaRange range = sigma_range(config.sample.sigma_min, config.sample.sigma_max, setup.network, setup.schedule);
  objective.sigma_min = range.min;
  objective.sigma_max = range.max;
  objective.rho = config.sample.rho;
  objective.levels = config.consistency.levels;
  objective.training = training;
  objective.curriculum = {config.consistency.s0, config.consistency.s1};
  objective.total_steps = config.train.steps;
  objective.p_mean = config.consistency.p_mean;
  objective.p_std = config.consistency.p_std;
  objective.huber_factor = config.consistency.huber_c;
  return objective;
}

Tensor consistency_micro_batch(model::UNet& student, model::UNet& target, model::UNet* teacher,
                               const DiffusionSetup& setup, const ConsistencyObjective& objective, uint64_t seed,
                               const MicroBatch& batch, const ops::LossScale& loss_scale) {
  const Tensor& x = batch.images;
  const int64_t n = x.dim(0);
  const Device device = x.device();

  const int levels = objective.levels_at(batch.step);
  const std::vector<double> sigmas =
      consistency_sigmas(levels, objective.sigma_min, objective.sigma_max, objective.rho);
  const std::vector<double> pair_probabilities =
      objective.training ? lognormal_pair_probabilities(sigmas, objective.p_mean, objective.p_std)
                         : std::vector<double>();
  std::vector<double> from(n), to(n);
  std::vector<float> weights(n), ones(n, 1.f);
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t sample = batch.first_sample + static_cast<uint32_t>(i);
    const double u = random_uniform(RandomStream{seed, kPurposeConsistencyLevel, batch.step, sample}, 0);
    const int pair = objective.training ? draw_pair(pair_probabilities, u)
                                        : std::min(levels - 2, static_cast<int>(u * (levels - 1)));
    from[i] = sigmas[pair + 1];
    to[i] = sigmas[pair];
    weights[i] = objective.training ? static_cast<float>(1.0 / (from[i] - to[i])) : 1.f;
  }
  const Tensor labels = conditioning_labels(setup, seed, batch);

  // x_{i+1} = x + sigma_{i+1} eps, and its neighbour x_i one level down.
  const auto map = [&] { return Tensor::empty(x.shape(), DType::F32, device); };
  Tensor eps = map(), x_from = map(), x_to = map();
  ops::fill_normal(eps, seed, kPurposeNoise, batch.step, batch.first_sample);
  ops::combine_per_sample(x, per_sample(ones, device), eps,
                          per_sample(std::vector<float>(from.begin(), from.end()), device), x_from);
  if (teacher) {
    const model::ForwardContext teacher_context{false, seed, batch.step, batch.first_sample};
    const Denoiser run_teacher = [&](const Tensor& input, const Tensor& time, const Tensor& classes,
                                     const Tensor& out) {
      const model::NoBackward inference;  // the teacher is never differentiated
      copy(teacher->forward(input, time, classes, teacher_context), out);
    };
    teacher_ode_step(ve_denoiser(run_teacher, setup.network, setup.schedule, labels),
                     consistency_teacher_solver(setup.network), x_from, from, to, x_to);
  } else {
    ops::combine_per_sample(x, per_sample(ones, device), eps,
                            per_sample(std::vector<float>(to.begin(), to.end()), device), x_to);
  }

  // Both networks see the same dropout masks (iCT): the same context.
  const model::ForwardContext context{true, seed, batch.step, batch.first_sample};
  const ConsistencyCall at_to = consistency_call(setup, objective.sigma_min, to, x_to);
  const Tensor f_target = map();
  {
    const model::NoBackward stop_gradient;
    ops::combine_per_sample(x_to, at_to.f_x, target.forward(at_to.input, at_to.time, labels, context), at_to.f_out,
                            f_target);
  }
  const ConsistencyCall at_from = consistency_call(setup, objective.sigma_min, from, x_from);
  const Tensor f_online = map();
  ops::combine_per_sample(x_from, at_from.f_x, student.forward(at_from.input, at_from.time, labels, context),
                          at_from.f_out, f_online);

  const int64_t elements = x.numel() / n;
  const float c = static_cast<float>(pseudo_huber_c(elements, objective.huber_factor));
  const Tensor weight_tensor = per_sample(weights, device);
  Tensor losses = Tensor::empty({n}, DType::F32, device);
  Tensor df = map();
  ops::pseudo_huber_loss_forward(f_online, f_target, weight_tensor, c, losses);
  ops::pseudo_huber_loss_backward(f_online, f_target, weight_tensor, c, loss_scale, df);
  // f = f_x x + f_out o: the output's gradient is f_out df.
  ops::combine_per_sample(df, at_from.f_out, df, per_sample(std::vector<float>(n, 0.f), device), df);
  student.backward(df);
  return losses;
}

}  // namespace diffuse
