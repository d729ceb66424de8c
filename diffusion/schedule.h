// Noise schedules. A noisy image is z = alpha * x + sigma * eps with
// alpha^2 + sigma^2 = 1 (variance preserving). Every schedule answers two
// questions: which (alpha, sigma, network time) a training draw u in (0,1)
// lands on, and which decreasing sequence of points a sampler walks.
//
//  - linear: DDPM's betas from 1e-4 to 0.02 over T steps, alpha^2 = prod(1 - beta).
//  - cosine: Nichol & Dhariwal's alpha_bar(i) = f(i/T)/f(0), f(s) = cos((s + 0.008)/1.008 * pi/2)^2,
//            with betas clipped to 0.999, over T steps.
//  - cosine_continuous: alpha = cos(pi t / 2), sigma = sin(pi t / 2) for t in [0, 1].
// The network sees the step index for discrete schedules and 1000 t for the
// continuous one, so embeddings cover the same range either way.
//
// The ODE samplers work in the variance-exploding view x / alpha = x + (sigma / alpha) eps, whose noise level
// sigma / alpha is called the VE sigma here.
#pragma once

#include <vector>

#include "core/enum_names.h"

namespace diffuse {

enum class ScheduleKind { Linear, Cosine, CosineContinuous };
inline constexpr EnumName<ScheduleKind> kScheduleNames[] = {{ScheduleKind::Linear, "linear"},
                                                            {ScheduleKind::Cosine, "cosine"},
                                                            {ScheduleKind::CosineContinuous, "cosine_continuous"}};

// One point on the noise path.
struct NoiseLevel {
  double alpha = 1.0;        // signal scale
  double sigma = 0.0;        // noise scale
  float network_time = 0.f;  // the value fed to the time embedding
  double time = 0.0;         // continuous time in [0, 1] (i / T for discrete schedules)

  double snr() const { return (alpha * alpha) / (sigma * sigma); }
};

class NoiseSchedule {
 public:
  NoiseSchedule(ScheduleKind kind, int timesteps);

  ScheduleKind kind() const { return kind_; }
  bool is_continuous() const { return kind_ == ScheduleKind::CosineContinuous; }
  int timesteps() const { return timesteps_; }

  // The training noise level for a uniform draw u in (0, 1).
  NoiseLevel training_level(double u) const;
  // The noise level at continuous time t in [0, 1] (discrete schedules round
  // to the nearest step; t = 0 is the clean image).
  NoiseLevel at_time(double t) const;
  // `steps` + 1 levels from the noisiest to clean (alpha = 1, sigma = 0),
  // evenly spaced in time (DDIM's uniform spacing); the samplers walk them.
  std::vector<NoiseLevel> sampling_path(int steps) const;

  // The smallest and largest VE sigma the network is trained on (step 0 and step T-1; the continuous schedule's
  // log-SNR limits).
  double smallest_ve_sigma() const;
  double largest_ve_sigma() const;
  // The level whose VE sigma is `ve_sigma` (> 0) exactly: alpha = 1 / sqrt(1 + s^2), sigma = s / sqrt(1 + s^2). Its
  // network time is the continuous t = 2/pi atan(s), or for discrete schedules the step index interpolated linearly
  // in log VE sigma between the two nearest steps (k-diffusion's sigma_to_t); both are clamped to the trained range.
  NoiseLevel at_ve_sigma(double ve_sigma) const;

 private:
  NoiseLevel discrete_level(int index) const;  // index in [0, T)
  double discrete_log_ve_sigma(int index) const;

  ScheduleKind kind_;
  int timesteps_;
  std::vector<double> alpha_bar_;  // discrete schedules: alpha^2 at step i
};

}  // namespace diffuse
