// Row softmax and its backward on the GPU, one warp per row: the middle of
// attention (attention.cpp), between its products. Rows are fp32; the
// probabilities (or score gradients) can also be written rounded to bf16/fp16,
// the operand of the next product.
#include <cmath>

#include "core/cuda/kernel_support.cuh"
#include "core/cuda/kernels.h"

namespace diffuse::cuda {

namespace {

// One warp per row of `width` scores, in place; `low` (optional) receives the
// probabilities rounded to the operand type for the next product.
template <typename Low>
__global__ void softmax_rows_kernel(float* scores, Low* low, int64_t rows, int64_t width) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const int lane = warp_lane();
  float* values = scores + row * width;
  float max_value = -INFINITY;
  for (int64_t j = lane; j < width; j += 32) max_value = fmaxf(max_value, values[j]);
  max_value = warp_max(max_value);
  float total = 0.0f;
  for (int64_t j = lane; j < width; j += 32) {
    const float e = expf(values[j] - max_value);  // the row max is subtracted so exp cannot overflow
    values[j] = e;
    total += e;
  }
  const float inverse = 1.0f / warp_sum(total);
  for (int64_t j = lane; j < width; j += 32) {
    const float p = values[j] * inverse;
    values[j] = p;
    if (low != nullptr) low[row * width + j] = from_float<Low>(p);
  }
}

// d scores = probs * (d probs - sum_j probs_j d probs_j), one warp per row; the
// dot in double as on the CPU. Written in place (fp32) or to `low`.
template <typename Low>
__global__ void softmax_rows_backward_kernel(const float* probs, float* grads, Low* low, int64_t rows, int64_t width) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const int lane = warp_lane();
  const float* p = probs + row * width;
  float* g = grads + row * width;
  double dot = 0.0;
  for (int64_t j = lane; j < width; j += 32) dot += static_cast<double>(p[j]) * g[j];
  const float expected = static_cast<float>(warp_sum(dot));
  for (int64_t j = lane; j < width; j += 32) {
    const float score_grad = p[j] * (g[j] - expected);
    if (low != nullptr) {
      low[row * width + j] = from_float<Low>(score_grad);
    } else {
      g[j] = score_grad;
    }
  }
}

template <typename Low>
void launch_softmax(float* scores, void* low, int64_t rows, int64_t width) {
  launch_kernel(softmax_rows_kernel<Low>, blocks_for_rows(rows), kWarpsPerBlock * 32, scores, static_cast<Low*>(low),
                rows, width);
}

template <typename Low>
void launch_softmax_backward(const float* probs, float* grads, void* low, int64_t rows, int64_t width) {
  launch_kernel(softmax_rows_backward_kernel<Low>, blocks_for_rows(rows), kWarpsPerBlock * 32, probs, grads,
                static_cast<Low*>(low), rows, width);
}

}  // namespace

void softmax_rows(float* scores, const Tensor& low, int64_t rows, int64_t width) {
  if (rows == 0 || width == 0) return;
  if (!low.defined()) return launch_softmax<float>(scores, nullptr, rows, width);
  if (low.dtype() == DType::BF16) return launch_softmax<bf16>(scores, low.raw(), rows, width);
  launch_softmax<f16>(scores, low.raw(), rows, width);
}

void softmax_rows_backward(const float* probs, float* grads, const Tensor& low, int64_t rows, int64_t width) {
  if (rows == 0 || width == 0) return;
  if (!low.defined()) return launch_softmax_backward<float>(probs, grads, nullptr, rows, width);
  if (low.dtype() == DType::BF16) return launch_softmax_backward<bf16>(probs, grads, low.raw(), rows, width);
  launch_softmax_backward<f16>(probs, grads, low.raw(), rows, width);
}

}  // namespace diffuse::cuda
