// CPU bilinear resizing with half-pixel centres (PyTorch's
// align_corners=False), forward and backward: Inception-v3 sees every image
// at 299x299. Each output pixel blends two rows and two columns of input
// pixels; the per-axis taps (core/math/resize.h, shared with the CUDA
// backend) are computed once per call.
#include "core/math/resize.h"

#include <cstring>
#include <vector>

#include "core/cpu/cpu_backend.h"

namespace diffuse::cpu {

namespace {

std::vector<ResizeTap> axis_taps(int64_t in, int64_t out) {
  std::vector<ResizeTap> taps;
  taps.reserve(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) taps.push_back(resize_tap(o, in, out));
  return taps;
}

}  // namespace

void CpuBackend::resize_bilinear_forward(const Tensor& x, const Tensor& y) {
  const int64_t batch = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3), ho = y.dim(1), wo = y.dim(2);
  const std::vector<ResizeTap> rows = axis_taps(h, ho), cols = axis_taps(w, wo);
  const float* in = x.f32();
  float* out = y.f32();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t oy = 0; oy < ho; ++oy) {
      const ResizeTap& row = rows[oy];
      const float* top = in + (n * h + row.low) * w * c;
      const float* bottom = in + (n * h + row.high) * w * c;
      for (int64_t ox = 0; ox < wo; ++ox) {
        const ResizeTap& col = cols[ox];
        const int64_t left = col.low * c, right = col.high * c;
        float* target = out + ((n * ho + oy) * wo + ox) * c;
        for (int64_t ch = 0; ch < c; ++ch)
          target[ch] = bilinear_blend(top[left + ch], top[right + ch], bottom[left + ch], bottom[right + ch], row, col);
      }
    }
}

void CpuBackend::resize_bilinear_backward(const Tensor& dy, const Tensor& dx) {
  const int64_t batch = dx.dim(0), h = dx.dim(1), w = dx.dim(2), c = dx.dim(3), ho = dy.dim(1), wo = dy.dim(2);
  const std::vector<ResizeTap> rows = axis_taps(h, ho), cols = axis_taps(w, wo);
  const float* grad_out = dy.f32();
  float* grad_in = dx.f32();
  std::memset(grad_in, 0, dx.nbytes());
  // Scatter with the forward's weights; one image per thread, so no two threads touch one pixel.
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t oy = 0; oy < ho; ++oy) {
      const ResizeTap& row = rows[oy];
      float* top = grad_in + (n * h + row.low) * w * c;
      float* bottom = grad_in + (n * h + row.high) * w * c;
      for (int64_t ox = 0; ox < wo; ++ox) {
        const ResizeTap& col = cols[ox];
        const BilinearWeights k = bilinear_weights(row, col);
        const int64_t left = col.low * c, right = col.high * c;
        const float* source = grad_out + ((n * ho + oy) * wo + ox) * c;
        for (int64_t ch = 0; ch < c; ++ch) {
          const float g = source[ch];
          top[left + ch] += k.top_left * g;
          top[right + ch] += k.top_right * g;
          bottom[left + ch] += k.bottom_left * g;
          bottom[right + ch] += k.bottom_right * g;
        }
      }
    }
}

}  // namespace diffuse::cpu
