// Per-sample combinations and clamping: the diffusion arithmetic of the
// trainer and the samplers (z = alpha x + sigma eps, targets, DDIM updates).
// The combined tensors may be f32, bf16 or f16 (the per-sample factors stay f32): the loops widen on load,
// compute in fp32 and round once on store.
#include <algorithm>

#include "core/cpu/cpu_backend.h"
#include "core/float_storage.h"
#include "core/math/elementwise.h"

namespace diffuse::cpu {

namespace {

template <typename T>
void combine_samples(const Tensor& p, const Tensor& a, const Tensor& q, const Tensor& b, const Tensor& y) {
  const int64_t samples = p.dim(0), per_sample = p.numel() / std::max<int64_t>(samples, 1);
  const T *pd = storage_data<T>(p), *qd = storage_data<T>(q);
  const float *ad = a.f32(), *bd = b.f32();
  T* yd = storage_data<T>(y);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < samples; ++n) {
    const float an = ad[n], bn = bd[n];
    for (int64_t i = n * per_sample; i < (n + 1) * per_sample; ++i)
      yd[i] = from_float<T>(combine_value(an, to_float(pd[i]), bn, to_float(qd[i])));
  }
}

template <typename T>
void clamp_elements(const Tensor& x, float low, float high, const Tensor& y) {
  const T* xd = storage_data<T>(x);
  T* yd = storage_data<T>(y);
  const int64_t count = x.numel();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) yd[i] = from_float<T>(clamp_value(to_float(xd[i]), low, high));
}

}  // namespace

void CpuBackend::combine_per_sample(const Tensor& p, const Tensor& a, const Tensor& q, const Tensor& b,
                                    const Tensor& y) {
  with_storage_type(p.dtype(), [&](auto tag) { combine_samples<decltype(tag)>(p, a, q, b, y); });
}

void CpuBackend::clamp(const Tensor& x, float low, float high, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) { clamp_elements<decltype(tag)>(x, low, high, y); });
}

}  // namespace diffuse::cpu
