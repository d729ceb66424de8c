// Element-wise ops on the CPU: SiLU, the per-channel vector add of a ResBlock's
// time embedding, the per-channel scale and shift of the adaptive group norm, and the flat add / accumulate / scale
// used by residuals and gradient plumbing. Flat loops over contiguous fp32 memory; in-place use (output aliasing an
// input) is safe because each element is read before it is written and no other element depends on it.
#include "core/math/elementwise.h"

#include <algorithm>
#include <cstring>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"
#include "core/math/activation.h"

namespace diffuse::cpu {

namespace {

constexpr int64_t kChannelBlock = 64;  // channels per task in the dv reduction

}  // namespace

void CpuBackend::silu_forward(const Tensor& x, const Tensor& y) {
  const int64_t count = x.numel();
  const float* in = x.f32();
  float* out = y.f32();
#pragma omp parallel for schedule(static) if (worth_threads(count))
  for (int64_t i = 0; i < count; ++i) out[i] = silu(in[i]);
}

void CpuBackend::silu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  const int64_t count = x.numel();
  const float* in = x.f32();
  const float* grad = dy.f32();
  float* out = dx.f32();
#pragma omp parallel for schedule(static) if (worth_threads(count))
  for (int64_t i = 0; i < count; ++i) out[i] = grad[i] * silu_derivative(in[i]);
}

void CpuBackend::add_channel_vector_forward(const Tensor& x, const Tensor& v, const Tensor& y) {
  const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3);
  const float* in = x.f32();
  const float* vector = v.f32();
  float* out = y.f32();
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(n * hw * c))
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < hw; ++p) {
      const int64_t base = (i * hw + p) * c;
      const float* row = vector + i * c;
      for (int64_t ch = 0; ch < c; ++ch) out[base + ch] = in[base + ch] + row[ch];
    }
}

void CpuBackend::add_channel_vector_backward(const Tensor& dy, const Tensor& dx, const Tensor& dv) {
  const int64_t n = dy.dim(0), hw = dy.dim(1) * dy.dim(2), c = dy.dim(3);
  const float* grad = dy.f32();
  // The ResBlock usually passes dx == dy (the gradient flows through unchanged).
  if (dx.defined() && dx.raw() != dy.raw()) std::copy(grad, grad + dy.numel(), dx.f32());

  // dv[n, c] = sum over pixels, in double, one task per (sample, channel block)
  // so the order of the sum never depends on the thread count.
  float* out = dv.f32();
  const int64_t blocks = (c + kChannelBlock - 1) / kChannelBlock;
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(n * hw * c))
  for (int64_t i = 0; i < n; ++i)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t begin = b * kChannelBlock, width = std::min(c, begin + kChannelBlock) - begin;
      double sum[kChannelBlock] = {};
      for (int64_t p = 0; p < hw; ++p) {
        const float* row = grad + (i * hw + p) * c + begin;
        for (int64_t j = 0; j < width; ++j) sum[j] += row[j];
      }
      for (int64_t j = 0; j < width; ++j) out[i * c + begin + j] = static_cast<float>(sum[j]);
    }
}

void CpuBackend::scale_shift_channels_forward(const Tensor& x, const Tensor& scale_shift, const Tensor& y) {
  const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3);
  const float* in = x.f32();
  const float* modulation = scale_shift.f32();
  float* out = y.f32();
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(n * hw * c))
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < hw; ++p) {
      const int64_t base = (i * hw + p) * c;
      const float* scale = modulation + i * 2 * c;
      const float* shift = scale + c;
      for (int64_t ch = 0; ch < c; ++ch) out[base + ch] = scale_shift_value(in[base + ch], scale[ch], shift[ch]);
    }
}

void CpuBackend::scale_shift_channels_backward(const Tensor& x, const Tensor& scale_shift, const Tensor& dy,
                                               const Tensor& dx, const Tensor& dscale_shift) {
  const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3);
  const float* in = x.f32();
  const float* modulation = scale_shift.f32();
  const float* grad = dy.f32();
  // The sums first: dx may alias dy.
  if (dscale_shift.defined()) {
    float* out = dscale_shift.f32();
    const int64_t blocks = (c + kChannelBlock - 1) / kChannelBlock;
    // In double, one task per (sample, channel block), so the order never depends on the thread count.
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(n * hw * c))
    for (int64_t i = 0; i < n; ++i)
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t begin = b * kChannelBlock, width = std::min(c, begin + kChannelBlock) - begin;
        double scale_sum[kChannelBlock] = {}, shift_sum[kChannelBlock] = {};
        for (int64_t p = 0; p < hw; ++p) {
          const int64_t base = (i * hw + p) * c + begin;
          for (int64_t j = 0; j < width; ++j) {
            scale_sum[j] += static_cast<double>(grad[base + j]) * in[base + j];
            shift_sum[j] += grad[base + j];
          }
        }
        for (int64_t j = 0; j < width; ++j) {
          out[i * 2 * c + begin + j] = static_cast<float>(scale_sum[j]);
          out[i * 2 * c + c + begin + j] = static_cast<float>(shift_sum[j]);
        }
      }
  }
  if (!dx.defined()) return;
  float* out = dx.f32();
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(n * hw * c))
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < hw; ++p) {
      const int64_t base = (i * hw + p) * c;
      const float* scale = modulation + i * 2 * c;
      for (int64_t ch = 0; ch < c; ++ch) out[base + ch] = scale_shift_input_grad(grad[base + ch], scale[ch]);
    }
}

void CpuBackend::add(const Tensor& a, const Tensor& b, const Tensor& y) {
  const int64_t count = a.numel();
  const float* left = a.f32();
  const float* right = b.f32();
  float* out = y.f32();
#pragma omp parallel for schedule(static) if (worth_threads(count))
  for (int64_t i = 0; i < count; ++i) out[i] = left[i] + right[i];
}

void CpuBackend::accumulate(const Tensor& y, const Tensor& x) {
  const int64_t count = y.numel();
  const float* in = x.f32();
  float* out = y.f32();
#pragma omp parallel for schedule(static) if (worth_threads(count))
  for (int64_t i = 0; i < count; ++i) out[i] += in[i];
}

void CpuBackend::fill_zero(const Tensor& x) { std::memset(x.raw(), 0, x.nbytes()); }

void CpuBackend::scale(const Tensor& x, float alpha, const Tensor& y) {
  const int64_t count = x.numel();
  const float* in = x.f32();
  float* out = y.f32();
#pragma omp parallel for schedule(static) if (worth_threads(count))
  for (int64_t i = 0; i < count; ++i) out[i] = alpha * in[i];
}

}  // namespace diffuse::cpu
