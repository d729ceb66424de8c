// Element-wise ops on the CPU: SiLU, the per-channel vector add of a ResBlock's
// time embedding, the per-channel scale and shift of the adaptive group norm, and the flat add / accumulate / scale
// used by residuals and gradient plumbing. Flat loops over contiguous memory; in-place use (output aliasing an
// input) is safe because each element is read before it is written and no other element depends on it.
// Activations are f32, bf16 or f16 (one type per call): loops are templated on the storage type, widen on load,
// compute in fp32 and round once on store; the per-channel vectors and sums are fp32.
#include "core/math/elementwise.h"

#include <algorithm>
#include <cstring>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"
#include "core/float_storage.h"
#include "core/math/activation.h"

namespace diffuse::cpu {

namespace {

constexpr int64_t kChannelBlock = 64;  // channels per task in the dv reduction

// out[i] = map(in[i]...) over `count` elements of one storage type T, in fp32.
template <typename T, typename Map, typename... In>
void map_elements(int64_t count, const Map& map, T* out, const In*... in) {
#pragma omp parallel for schedule(static) if (worth_threads(count))
  for (int64_t i = 0; i < count; ++i) out[i] = from_float<T>(map(to_float(in[i])...));
}

// y[n, p, c] = map(x[n, p, c], row[c]) with row = modulation + n * row_stride: the per-sample channel ops.
template <typename T, typename Map>
void map_channels(const Tensor& x, const float* modulation, int64_t row_stride, const Tensor& y, const Map& map) {
  const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3);
  const T* in = storage_data<T>(x);
  T* out = storage_data<T>(y);
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(n * hw * c))
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < hw; ++p) {
      const int64_t base = (i * hw + p) * c;
      const float* row = modulation + i * row_stride;
      for (int64_t ch = 0; ch < c; ++ch) out[base + ch] = from_float<T>(map(to_float(in[base + ch]), row, ch));
    }
}

}  // namespace

void CpuBackend::silu_forward(const Tensor& x, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    map_elements(
        x.numel(), [](float value) { return silu(value); }, storage_data<T>(y), storage_data<T>(x));
  });
}

void CpuBackend::silu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    map_elements(
        x.numel(), [](float value, float grad) { return grad * silu_derivative(value); }, storage_data<T>(dx),
        storage_data<T>(x), storage_data<T>(dy));
  });
}

void CpuBackend::add_channel_vector_forward(const Tensor& x, const Tensor& v, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) {
    map_channels<decltype(tag)>(x, v.f32(), x.dim(3), y,
                                [](float value, const float* row, int64_t ch) { return value + row[ch]; });
  });
}

void CpuBackend::add_channel_vector_backward(const Tensor& dy, const Tensor& dx, const Tensor& dv) {
  const int64_t n = dy.dim(0), hw = dy.dim(1) * dy.dim(2), c = dy.dim(3);
  // The ResBlock usually passes dx == dy (the gradient flows through unchanged).
  if (dx.defined() && dx.raw() != dy.raw()) std::memcpy(dx.raw(), dy.raw(), dy.nbytes());

  // dv[n, c] = sum over pixels, in double, one task per (sample, channel block)
  // so the order of the sum never depends on the thread count.
  float* out = dv.f32();
  const int64_t blocks = (c + kChannelBlock - 1) / kChannelBlock;
  with_storage_type(dy.dtype(), [&](auto tag) {
    const auto* grad = storage_data<decltype(tag)>(dy);
#pragma omp parallel for collapse(2) schedule(static) if (worth_threads(n * hw * c))
    for (int64_t i = 0; i < n; ++i)
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t begin = b * kChannelBlock, width = std::min(c, begin + kChannelBlock) - begin;
        double sum[kChannelBlock] = {};
        for (int64_t p = 0; p < hw; ++p) {
          const auto* row = grad + (i * hw + p) * c + begin;
          for (int64_t j = 0; j < width; ++j) sum[j] += to_float(row[j]);
        }
        for (int64_t j = 0; j < width; ++j) out[i * c + begin + j] = static_cast<float>(sum[j]);
      }
  });
}

void CpuBackend::scale_shift_channels_forward(const Tensor& x, const Tensor& scale_shift, const Tensor& y) {
  const int64_t c = x.dim(3);
  with_storage_type(x.dtype(), [&](auto tag) {
    map_channels<decltype(tag)>(x, scale_shift.f32(), 2 * c, y, [c](float value, const float* scale, int64_t ch) {
      return scale_shift_value(value, scale[ch], scale[c + ch]);
    });
  });
}

void CpuBackend::scale_shift_channels_backward(const Tensor& x, const Tensor& scale_shift, const Tensor& dy,
                                               const Tensor& dx, const Tensor& dscale_shift) {
  const int64_t n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3);
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = storage_data<T>(x);
    const T* grad = storage_data<T>(dy);
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
              const float g = to_float(grad[base + j]);
              scale_sum[j] += static_cast<double>(g) * to_float(in[base + j]);
              shift_sum[j] += g;
            }
          }
          for (int64_t j = 0; j < width; ++j) {
            out[i * 2 * c + begin + j] = static_cast<float>(scale_sum[j]);
            out[i * 2 * c + c + begin + j] = static_cast<float>(shift_sum[j]);
          }
        }
    }
    if (dx.defined())
      map_channels<T>(dy, scale_shift.f32(), 2 * c, dx,
                      [](float g, const float* scale, int64_t ch) { return scale_shift_input_grad(g, scale[ch]); });
  });
}

void CpuBackend::add(const Tensor& a, const Tensor& b, const Tensor& y) {
  with_storage_type(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    map_elements(
        a.numel(), [](float left, float right) { return left + right; }, storage_data<T>(y), storage_data<T>(a),
        storage_data<T>(b));
  });
}

void CpuBackend::accumulate(const Tensor& y, const Tensor& x) {
  with_storage_type(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    map_elements(
        y.numel(), [](float sum, float value) { return sum + value; }, storage_data<T>(y), storage_data<T>(y),
        storage_data<T>(x));
  });
}

void CpuBackend::fill_zero(const Tensor& x) { std::memset(x.raw(), 0, x.nbytes()); }

void CpuBackend::scale(const Tensor& x, float alpha, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    map_elements(
        x.numel(), [alpha](float value) { return alpha * value; }, storage_data<T>(y), storage_data<T>(x));
  });
}

}  // namespace diffuse::cpu
