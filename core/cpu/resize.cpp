// CPU bilinear resizing with half-pixel centres (PyTorch's
// align_corners=False), forward and backward: Inception-v3 sees every image
// at 299x299. Each output pixel blends two rows and two columns of input
// pixels; the per-axis taps and weights are computed once per call.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/cpu/cpu_backend.h"

namespace diffuse::cpu {

namespace {

// Output position o reads input pixels `low` and `high` with weights 1 - fraction and fraction.
struct AxisTaps {
  std::vector<int64_t> low, high;
  std::vector<float> fraction;
};

AxisTaps axis_taps(int64_t in, int64_t out) {
  AxisTaps taps;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    const double source = std::max(0.0, (static_cast<double>(o) + 0.5) * scale - 0.5);
    const int64_t low = std::min(static_cast<int64_t>(source), in - 1);
    taps.low.push_back(low);
    taps.high.push_back(std::min(low + 1, in - 1));
    taps.fraction.push_back(static_cast<float>(source - static_cast<double>(low)));
  }
  return taps;
}

}  // namespace

void CpuBackend::resize_bilinear_forward(const Tensor& x, const Tensor& y) {
  const int64_t batch = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3), ho = y.dim(1), wo = y.dim(2);
  const AxisTaps rows = axis_taps(h, ho), cols = axis_taps(w, wo);
  const float* in = x.f32();
  float* out = y.f32();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t oy = 0; oy < ho; ++oy) {
      const float fy = rows.fraction[oy];
      const float* top = in + (n * h + rows.low[oy]) * w * c;
      const float* bottom = in + (n * h + rows.high[oy]) * w * c;
      for (int64_t ox = 0; ox < wo; ++ox) {
        const float fx = cols.fraction[ox];
        const int64_t left = cols.low[ox] * c, right = cols.high[ox] * c;
        float* target = out + ((n * ho + oy) * wo + ox) * c;
        for (int64_t ch = 0; ch < c; ++ch) {
          const float upper = top[left + ch] + fx * (top[right + ch] - top[left + ch]);
          const float lower = bottom[left + ch] + fx * (bottom[right + ch] - bottom[left + ch]);
          target[ch] = upper + fy * (lower - upper);
        }
      }
    }
}

void CpuBackend::resize_bilinear_backward(const Tensor& dy, const Tensor& dx) {
  const int64_t batch = dx.dim(0), h = dx.dim(1), w = dx.dim(2), c = dx.dim(3), ho = dy.dim(1), wo = dy.dim(2);
  const AxisTaps rows = axis_taps(h, ho), cols = axis_taps(w, wo);
  const float* grad_out = dy.f32();
  float* grad_in = dx.f32();
  std::memset(grad_in, 0, dx.nbytes());
  // Scatter with the forward's weights; one image per thread, so no two threads touch one pixel.
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t oy = 0; oy < ho; ++oy) {
      const float fy = rows.fraction[oy];
      float* top = grad_in + (n * h + rows.low[oy]) * w * c;
      float* bottom = grad_in + (n * h + rows.high[oy]) * w * c;
      for (int64_t ox = 0; ox < wo; ++ox) {
        const float fx = cols.fraction[ox];
        const int64_t left = cols.low[ox] * c, right = cols.high[ox] * c;
        const float* source = grad_out + ((n * ho + oy) * wo + ox) * c;
        for (int64_t ch = 0; ch < c; ++ch) {
          const float g = source[ch];
          top[left + ch] += (1.0f - fy) * (1.0f - fx) * g;
          top[right + ch] += (1.0f - fy) * fx * g;
          bottom[left + ch] += fy * (1.0f - fx) * g;
          bottom[right + ch] += fy * fx * g;
        }
      }
    }
}

}  // namespace diffuse::cpu
