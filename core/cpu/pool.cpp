// CPU pooling over NHWC activations: max and average pooling with a square
// window (Inception's stem, reduction blocks and branch pools) and the global
// average pool that ends a feature network. A pixel's channels are
// contiguous, so every tap is a vectorisable loop over one channel row; the
// window geometry is core/math/pool.h's, shared with the CUDA backend.
// Backward passes scatter into dx; threads split the batch, so overlapping
// windows never race. Activations may be bf16 or f16: the loops widen on load,
// take maxima and sums in fp32 (the global pool's in double, as for f32) and
// round each output once.
#include "core/math/pool.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/fp32_values.h"
#include "core/float_storage.h"

namespace diffuse::cpu {

namespace {

PoolGeometry geometry_of(const Tensor& x, const Tensor& y, const Pool2dWindow& window) {
  return PoolGeometry{x.dim(0), x.dim(1),      x.dim(2),      x.dim(3),      y.dim(1),
                      y.dim(2), window.kernel, window.stride, window.padding};
}

// Calls tap(pixel) with the offset of the channel row of every input pixel in
// output (n, oy, ox)'s window, row by row.
template <typename Tap>
void for_each_tap(const PoolGeometry& g, int64_t n, int64_t oy, int64_t ox, const Tap& tap) {
  for (int64_t iy = g.tap_begin(oy); iy < g.tap_end(oy, g.height); ++iy)
    for (int64_t ix = g.tap_begin(ox); ix < g.tap_end(ox, g.width); ++ix)
      tap(((n * g.height + iy) * g.width + ix) * g.channels);
}

int64_t output_offset(const PoolGeometry& g, int64_t n, int64_t oy, int64_t ox) {
  return ((n * g.out_height + oy) * g.out_width + ox) * g.channels;
}

// A pooling forward: every output pixel's channels start at `initial`, fold(values, input row) takes each tap in
// fp32, finish(values, oy, ox) ends the window, and the values are stored rounded once.
template <typename T, typename Fold, typename Finish>
void pool_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window, float initial, const Fold& fold,
                  const Finish& finish) {
  const PoolGeometry g = geometry_of(x, y, window);
  const T* in = storage_data<T>(x);
  T* out = storage_data<T>(y);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t oy = 0; oy < g.out_height; ++oy)
      for (int64_t ox = 0; ox < g.out_width; ++ox) {
        T* target = out + output_offset(g, n, oy, ox);
        float* values = fp32_values(target, g.channels);
        std::fill(values, values + g.channels, initial);
        for_each_tap(g, n, oy, ox, [&](int64_t pixel) { fold(values, in + pixel, g.channels); });
        finish(values, g, oy, ox);
        store_fp32_values(values, target, g.channels);
      }
}

template <typename T>
void max_pool_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window) {
  pool_forward<T>(
      x, y, window, -std::numeric_limits<float>::infinity(),
      [](float* best, const T* row, int64_t channels) {
        for (int64_t c = 0; c < channels; ++c) best[c] = std::max(best[c], to_float(row[c]));
      },
      [](float*, const PoolGeometry&, int64_t, int64_t) {});
}

template <typename T>
void max_pool_backward(const Tensor& x, const Tensor& dy, const Tensor& dx, const Pool2dWindow& window) {
  const PoolGeometry g = geometry_of(x, dy, window);
  const T* in = storage_data<T>(x);
  const T* grad_out = storage_data<T>(dy);
  const int64_t sample = g.height * g.width * g.channels;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < g.batch; ++n) {
    // The sample's gradient, summed over overlapping windows; a tap's offset less n * sample indexes it.
    T* target = storage_data<T>(dx) + n * sample;
    float* sum = fp32_values(target, sample);
    std::fill(sum, sum + sample, 0.0f);
    std::vector<int64_t> winner(static_cast<size_t>(g.channels));  // first maximal tap's pixel offset per channel
    std::vector<float> best(static_cast<size_t>(g.channels));
    for (int64_t oy = 0; oy < g.out_height; ++oy)
      for (int64_t ox = 0; ox < g.out_width; ++ox) {
        std::fill(best.begin(), best.end(), -std::numeric_limits<float>::infinity());
        std::fill(winner.begin(), winner.end(), -1);
        for_each_tap(g, n, oy, ox, [&](int64_t pixel) {
          for (int64_t c = 0; c < g.channels; ++c) {
            const float value = to_float(in[pixel + c]);
            if (winner[c] < 0 || value > best[c]) {
              best[c] = value;
              winner[c] = pixel;
            }
          }
        });
        const T* source = grad_out + output_offset(g, n, oy, ox);
        for (int64_t c = 0; c < g.channels; ++c) sum[winner[c] - n * sample + c] += to_float(source[c]);
      }
    store_fp32_values(sum, target, sample);
  }
}

template <typename T>
void avg_pool_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window) {
  pool_forward<T>(
      x, y, window, 0.0f,
      [](float* sum, const T* row, int64_t channels) {
        for (int64_t c = 0; c < channels; ++c) sum[c] += to_float(row[c]);
      },
      [](float* sum, const PoolGeometry& g, int64_t oy, int64_t ox) {
        const float weight = g.average_weight(oy, ox);
        for (int64_t c = 0; c < g.channels; ++c) sum[c] *= weight;
      });
}

template <typename T>
void avg_pool_backward(const Tensor& dy, const Tensor& dx, const Pool2dWindow& window) {
  const PoolGeometry g = geometry_of(dx, dy, window);
  const T* grad_out = storage_data<T>(dy);
  const int64_t sample = g.height * g.width * g.channels;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < g.batch; ++n) {
    // The sample's gradient, summed over overlapping windows; a tap's offset less n * sample indexes it.
    T* target = storage_data<T>(dx) + n * sample;
    float* sum = fp32_values(target, sample);
    std::fill(sum, sum + sample, 0.0f);
    for (int64_t oy = 0; oy < g.out_height; ++oy)
      for (int64_t ox = 0; ox < g.out_width; ++ox) {
        const float weight = g.average_weight(oy, ox);
        const T* source = grad_out + output_offset(g, n, oy, ox);
        for_each_tap(g, n, oy, ox, [&](int64_t pixel) {
          float* row = sum + (pixel - n * sample);
          for (int64_t c = 0; c < g.channels; ++c) row[c] += to_float(source[c]) * weight;
        });
      }
    store_fp32_values(sum, target, sample);
  }
}

template <typename T>
void global_avg_pool(const Tensor& x, const Tensor& y) {
  const int64_t batch = x.dim(0), pixels = x.dim(1) * x.dim(2), channels = x.dim(3);
  const T* in = storage_data<T>(x);
  T* out = storage_data<T>(y);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < batch; ++n) {
    // Double sums: an 8x8 Inception map or a 299x299 one sum alike.
    std::vector<double> sums(static_cast<size_t>(channels), 0.0);
    for (int64_t p = 0; p < pixels; ++p) {
      const T* source = in + (n * pixels + p) * channels;
      for (int64_t c = 0; c < channels; ++c) sums[c] += to_float(source[c]);
    }
    for (int64_t c = 0; c < channels; ++c) out[n * channels + c] = from_float<T>(static_cast<float>(sums[c] / pixels));
  }
}

template <typename T>
void global_avg_pool_gradient(const Tensor& dy, const Tensor& dx) {
  const int64_t batch = dx.dim(0), pixels = dx.dim(1) * dx.dim(2), channels = dx.dim(3);
  const T* grad_out = storage_data<T>(dy);
  T* grad_in = storage_data<T>(dx);
  const float inverse = 1.0f / static_cast<float>(pixels);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t p = 0; p < pixels; ++p) {
      T* target = grad_in + (n * pixels + p) * channels;
      for (int64_t c = 0; c < channels; ++c) target[c] = from_float<T>(to_float(grad_out[n * channels + c]) * inverse);
    }
}

}  // namespace

void CpuBackend::max_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window) {
  with_storage_type(x.dtype(), [&](auto tag) { max_pool_forward<decltype(tag)>(x, y, window); });
}

void CpuBackend::max_pool2d_backward(const Tensor& x, const Tensor& dy, const Tensor& dx, const Pool2dWindow& window) {
  with_storage_type(x.dtype(), [&](auto tag) { max_pool_backward<decltype(tag)>(x, dy, dx, window); });
}

void CpuBackend::avg_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dWindow& window) {
  with_storage_type(x.dtype(), [&](auto tag) { avg_pool_forward<decltype(tag)>(x, y, window); });
}

void CpuBackend::avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const Pool2dWindow& window) {
  with_storage_type(dy.dtype(), [&](auto tag) { avg_pool_backward<decltype(tag)>(dy, dx, window); });
}

void CpuBackend::global_avg_pool_forward(const Tensor& x, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) { global_avg_pool<decltype(tag)>(x, y); });
}

void CpuBackend::global_avg_pool_backward(const Tensor& dy, const Tensor& dx) {
  with_storage_type(dy.dtype(), [&](auto tag) { global_avg_pool_gradient<decltype(tag)>(dy, dx); });
}

}  // namespace diffuse::cpu
