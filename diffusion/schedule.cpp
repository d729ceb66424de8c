#include "diffusion/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace diffuse {

namespace {
constexpr double kPi = 3.14159265358979323846;
// The continuous schedule's log-SNR is clipped to +-15 so that alpha and
// sigma never reach exactly 0 in training (weights and x0 estimates stay finite).
constexpr double kMaxLogSnr = 15.0;
}  // namespace

NoiseSchedule::NoiseSchedule(ScheduleKind kind, int timesteps) : kind_(kind), timesteps_(timesteps) {
  DIFFUSE_CHECK(timesteps >= 2, "a schedule needs at least 2 timesteps, got ", timesteps);
  if (kind == ScheduleKind::CosineContinuous) return;
  alpha_bar_.resize(static_cast<size_t>(timesteps));
  double product = 1.0;
  for (int i = 0; i < timesteps; ++i) {
    double beta;
    if (kind == ScheduleKind::Linear) {
      beta = 1e-4 + (0.02 - 1e-4) * i / (timesteps - 1);
    } else {
      auto f = [](double s) { return std::pow(std::cos((s + 0.008) / 1.008 * kPi / 2), 2); };
      beta = std::min(1.0 - f(static_cast<double>(i + 1) / timesteps) / f(static_cast<double>(i) / timesteps), 0.999);
    }
    product *= 1.0 - beta;
    alpha_bar_[static_cast<size_t>(i)] = product;
  }
}

NoiseLevel NoiseSchedule::discrete_level(int index) const {
  const double alpha_bar = alpha_bar_[static_cast<size_t>(index)];
  NoiseLevel level;
  level.alpha = std::sqrt(alpha_bar);
  level.sigma = std::sqrt(1.0 - alpha_bar);
  level.network_time = static_cast<float>(index);
  level.time = static_cast<double>(index + 1) / timesteps_;
  return level;
}

NoiseLevel NoiseSchedule::at_time(double t) const {
  t = std::clamp(t, 0.0, 1.0);
  if (kind_ == ScheduleKind::CosineContinuous) {
    NoiseLevel level;
    const double half_log_snr_limit = std::exp(-kMaxLogSnr / 2);  // min of alpha/sigma and sigma/alpha
    level.alpha = std::cos(kPi * t / 2);
    level.sigma = std::sin(kPi * t / 2);
    if (t > 0) {
      // Keep the log-SNR within +-kMaxLogSnr (t = 0 stays the clean image).
      const double ratio = std::clamp(level.alpha / level.sigma, half_log_snr_limit, 1.0 / half_log_snr_limit);
      level.alpha = ratio / std::sqrt(1 + ratio * ratio);
      level.sigma = 1 / std::sqrt(1 + ratio * ratio);
    }
    level.network_time = static_cast<float>(1000.0 * t);
    level.time = t;
    return level;
  }
  if (t == 0.0) return NoiseLevel{};
  // Step i covers time (i / T, (i + 1) / T].
  const int index = std::clamp(static_cast<int>(std::ceil(t * timesteps_ - 1e-9)) - 1, 0, timesteps_ - 1);
  return discrete_level(index);
}

NoiseLevel NoiseSchedule::training_level(double u) const {
  if (kind_ == ScheduleKind::CosineContinuous) return at_time(u);
  const int index = std::min(static_cast<int>(u * timesteps_), timesteps_ - 1);
  return discrete_level(index);
}

std::vector<NoiseLevel> NoiseSchedule::sampling_path(int steps) const {
  DIFFUSE_CHECK(steps >= 1, "a sampler needs at least one step, got ", steps);
  std::vector<NoiseLevel> path;
  path.reserve(static_cast<size_t>(steps) + 1);
  for (int k = steps; k >= 0; --k) {
    if (k == 0) {
      path.push_back(at_time(0.0));
    } else if (kind_ == ScheduleKind::CosineContinuous) {
      path.push_back(at_time(static_cast<double>(k) / steps));
    } else {
      // Evenly spaced step indices from T-1 down, as DDIM's uniform skip.
      const int index = static_cast<int>(std::llround(static_cast<double>(k) * timesteps_ / steps)) - 1;
      path.push_back(discrete_level(std::clamp(index, 0, timesteps_ - 1)));
    }
  }
  return path;
}

double NoiseSchedule::discrete_log_ve_sigma(int index) const {
  const double alpha_bar = alpha_bar_[static_cast<size_t>(index)];
  return 0.5 * std::log((1.0 - alpha_bar) / alpha_bar);
}

double NoiseSchedule::smallest_ve_sigma() const {
  if (is_continuous()) return std::exp(-kMaxLogSnr / 2);
  return std::exp(discrete_log_ve_sigma(0));
}

double NoiseSchedule::largest_ve_sigma() const {
  if (is_continuous()) return std::exp(kMaxLogSnr / 2);
  return std::exp(discrete_log_ve_sigma(timesteps_ - 1));
}

NoiseLevel NoiseSchedule::at_ve_sigma(double ve_sigma) const {
  DIFFUSE_CHECK(ve_sigma > 0.0, "a VE noise level must be positive, got ", ve_sigma);
  NoiseLevel level;
  level.alpha = 1.0 / std::sqrt(1.0 + ve_sigma * ve_sigma);
  level.sigma = ve_sigma * level.alpha;
  const double trained = std::clamp(ve_sigma, smallest_ve_sigma(), largest_ve_sigma());
  if (is_continuous()) {
    level.time = 2.0 / kPi * std::atan(trained);
    level.network_time = static_cast<float>(1000.0 * level.time);
    return level;
  }
  // The VE sigma grows with the step index: find the steps below and above, then interpolate in log sigma.
  const double log_sigma = std::log(trained);
  int above = timesteps_ - 1;
  for (int low = 1, high = timesteps_ - 1; low <= high;) {
    const int middle = low + (high - low) / 2;
    if (discrete_log_ve_sigma(middle) >= log_sigma) {
      above = middle;
      high = middle - 1;
    } else {
      low = middle + 1;
    }
  }
  const double low_log = discrete_log_ve_sigma(above - 1), high_log = discrete_log_ve_sigma(above);
  const double fraction = std::clamp((log_sigma - low_log) / (high_log - low_log), 0.0, 1.0);
  const double index = above - 1 + fraction;
  level.network_time = static_cast<float>(index);
  level.time = (index + 1.0) / timesteps_;
  return level;
}

}  // namespace diffuse
