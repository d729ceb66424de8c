#include "diffusion/consistency.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/on_device.h"
#include "core/ops.h"
#include "diffusion/ode_sampler.h"

namespace diffuse {

namespace {

Tensor per_sample_values(const std::vector<double>& values, Device device) {
  std::vector<float> floats(values.begin(), values.end());
  return on_device(from_vector(floats, {static_cast<int64_t>(floats.size())}), device);
}

template <typename Value>
Tensor per_sample_of(size_t count, Device device, Value&& value) {
  std::vector<double> values(count);
  for (size_t n = 0; n < count; ++n) values[n] = value(n);
  return per_sample_values(values, device);
}

}  // namespace

double pseudo_huber_c(int64_t sample_elements, double factor) {
  return factor * std::sqrt(static_cast<double>(sample_elements));
}

std::vector<double> consistency_sigmas(int levels, double sigma_min, double sigma_max, double rho) {
  DIFFUSE_CHECK(levels >= 2, "a consistency grid needs at least 2 levels, got ", levels);
  std::vector<double> sigmas = karras_sigmas(levels, sigma_min, sigma_max, rho);
  sigmas.pop_back();  // karras_sigmas' final 0
  std::reverse(sigmas.begin(), sigmas.end());
  sigmas.front() = sigma_min;  // exactly, so that the boundary condition holds to the bit
  return sigmas;
}

double consistency_c_skip(double s, double sigma_min, double sigma_data) {
  const double sd2 = sigma_data * sigma_data, offset = s - sigma_min;
  return sd2 / (offset * offset + sd2);
}

Mix consistency_output(const Parameterization& network, const NoiseLevel& level, double sigma_min) {
  const double s = level.sigma / level.alpha;
  const double c_skip = consistency_c_skip(s, sigma_min, network.preconditioning.sigma_data);
  // D = m.first z + m.second o with z = alpha x.
  const Mix m = x0_from_network(network, level);
  return {c_skip + (1.0 - c_skip) * m.first * level.alpha, (1.0 - c_skip) * m.second};
}

TeacherSolver consistency_teacher_solver(const Parameterization& network) {
  return network.is_edm() ? TeacherSolver::kHeun : TeacherSolver::kEuler;
}

VeDenoise ve_denoiser(const Denoiser& run_network, const Parameterization& network, const NoiseSchedule& schedule,
                      const Tensor& labels) {
  return [&run_network, network, &schedule, labels](const Tensor& x, const std::vector<double>& sigmas,
                                                    const Tensor& out) {
    DIFFUSE_CHECK(static_cast<int64_t>(sigmas.size()) == x.dim(0), "ve_denoiser: ", sigmas.size(), " noise levels for ",
                  x.dim(0), " images");
    std::vector<NoiseLevel> levels;
    for (double s : sigmas) levels.push_back(schedule.at_ve_sigma(s));
    const Device device = x.device();
    const auto of = [&](auto&& value) { return per_sample_of(levels.size(), device, value); };
    // The network input is input_scale * z = input_scale alpha x.
    const Tensor input = Tensor::empty(x.shape(), DType::F32, device);
    ops::combine_per_sample(x, of([&](size_t n) { return network_input_scale(network, levels[n]) * levels[n].alpha; }),
                            x, of([](size_t) { return 0.0; }), input);
    std::vector<float> times;
    for (const NoiseLevel& level : levels) times.push_back(network_time(network, level));
    run_network(input, on_device(from_vector(times, {static_cast<int64_t>(times.size())}), device), labels, out);
    // D = m.first alpha x + m.second o.
    ops::combine_per_sample(x,
                            of([&](size_t n) { return x0_from_network(network, levels[n]).first * levels[n].alpha; }),
                            out, of([&](size_t n) { return x0_from_network(network, levels[n]).second; }), out);
  };
}

void teacher_ode_step(const VeDenoise& denoise, TeacherSolver solver, const Tensor& x, const std::vector<double>& from,
                      const std::vector<double>& to, const Tensor& out) {
  DIFFUSE_CHECK(from.size() == to.size() && static_cast<int64_t>(from.size()) == x.dim(0),
                "teacher_ode_step: levels for ", from.size(), " and ", to.size(), " samples, images for ", x.dim(0));
  const Device device = x.device();
  const size_t count = from.size();
  const auto of = [&](auto&& value) { return per_sample_of(count, device, value); };
  const Tensor denoised = Tensor::empty(x.shape(), DType::F32, device);
  denoise(x, from, denoised);
  // Euler: x + (to - from) (x - D) / from = (to / from) x + (1 - to / from) D.
  const auto ratio = [&](size_t n) { return to[n] / from[n]; };
  if (solver == TeacherSolver::kEuler) {
    ops::combine_per_sample(x, of(ratio), denoised, of([&](size_t n) { return 1.0 - ratio(n); }), out);
    return;
  }
  // Heun: the slopes d = (x - D) / s at x and at the Euler trial point, averaged.
  const Tensor slope = Tensor::empty(x.shape(), DType::F32, device);
  const Tensor trial = Tensor::empty(x.shape(), DType::F32, device);
  ops::combine_per_sample(x, of([&](size_t n) { return 1.0 / from[n]; }), denoised,
                          of([&](size_t n) { return -1.0 / from[n]; }), slope);
  const Tensor step = of([&](size_t n) { return to[n] - from[n]; });
  ops::combine_per_sample(x, of([](size_t) { return 1.0; }), slope, step, trial);
  denoise(trial, to, denoised);
  ops::combine_per_sample(trial, of([&](size_t n) { return 0.5 / to[n]; }), denoised,
                          of([&](size_t n) { return -0.5 / to[n]; }), trial);
  ops::combine_per_sample(slope, of([](size_t) { return 0.5; }), trial, of([](size_t) { return 1.0; }), slope);
  ops::combine_per_sample(x, of([](size_t) { return 1.0; }), slope, step, out);
}

int ConsistencyCurriculum::levels_at(int64_t step, int64_t total_steps) const {
  DIFFUSE_CHECK(start >= 1 && end >= start, "the consistency curriculum needs 1 <= s0 <= s1, got s0 ", start, ", s1 ",
                end);
  const int64_t doublings = static_cast<int64_t>(std::floor(std::log2(static_cast<double>(end) / start))) + 1;
  const int64_t per_stage = std::max<int64_t>(1, total_steps / doublings);
  const int64_t stage = std::min<int64_t>(step / per_stage, 30);  // 2^30 levels is beyond any s1
  return static_cast<int>(std::min<int64_t>(static_cast<int64_t>(start) << stage, end)) + 1;
}

std::vector<double> lognormal_pair_probabilities(const std::vector<double>& sigmas, double p_mean, double p_std) {
  DIFFUSE_CHECK(sigmas.size() >= 2 && p_std > 0.0, "level pairs need at least 2 levels and p_std > 0");
  const auto cdf = [&](double s) { return std::erf((std::log(s) - p_mean) / (std::sqrt(2.0) * p_std)); };
  std::vector<double> probabilities;
  double total = 0.0;
  for (size_t i = 0; i + 1 < sigmas.size(); ++i) {
    probabilities.push_back(cdf(sigmas[i + 1]) - cdf(sigmas[i]));
    total += probabilities.back();
  }
  for (double& p : probabilities) p /= total;
  return probabilities;
}

int draw_pair(const std::vector<double>& probabilities, double u) {
  double cumulative = 0.0;
  for (size_t i = 0; i + 1 < probabilities.size(); ++i) {
    cumulative += probabilities[i];
    if (u < cumulative) return static_cast<int>(i);
  }
  return static_cast<int>(probabilities.size()) - 1;
}

}  // namespace diffuse
