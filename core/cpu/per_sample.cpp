// Per-sample combinations and clamping: the diffusion arithmetic of the
// trainer and the samplers (z = alpha x + sigma eps, targets, DDIM updates).
#include <algorithm>

#include "core/cpu/cpu_backend.h"
#include "core/math/elementwise.h"

namespace diffuse::cpu {

void CpuBackend::combine_per_sample(const Tensor& p, const Tensor& a, const Tensor& q, const Tensor& b,
                                    const Tensor& y) {
  const int64_t samples = p.dim(0), per_sample = p.numel() / std::max<int64_t>(samples, 1);
  const float *pd = p.f32(), *qd = q.f32(), *ad = a.f32(), *bd = b.f32();
  float* yd = y.f32();
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < samples; ++n) {
    const float an = ad[n], bn = bd[n];
    for (int64_t i = n * per_sample; i < (n + 1) * per_sample; ++i) yd[i] = an * pd[i] + bn * qd[i];
  }
}

void CpuBackend::clamp(const Tensor& x, float low, float high, const Tensor& y) {
  const float* xd = x.f32();
  float* yd = y.f32();
  const int64_t count = x.numel();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) yd[i] = clamp_value(xd[i], low, high);
}

}  // namespace diffuse::cpu
