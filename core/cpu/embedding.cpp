// CPU sinusoidal timestep embedding and class-label embedding, forward and
// backward. The embedding tables are tiny ([N, D] with N a batch), so the
// label scatter runs serially; the timestep loops are parallel over samples.
#include "core/math/embedding.h"

#include <cmath>
#include <cstring>

#include "core/cpu/cpu_backend.h"

namespace diffuse::cpu {

void CpuBackend::timestep_embedding_forward(const Tensor& t, const Tensor& out) {
  const int64_t n = t.dim(0), half = out.dim(1) / 2;
  const float* time = t.f32();
  float* y = out.f32();
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < n; ++s) {
    float* row = y + s * 2 * half;
    for (int64_t i = 0; i < half; ++i) {
      const double angle = timestep_angle(time[s], i, half);
      row[i] = static_cast<float>(std::sin(angle));
      row[half + i] = static_cast<float>(std::cos(angle));
    }
  }
}

void CpuBackend::timestep_embedding_backward(const Tensor& t, const Tensor& dout, const Tensor& dt) {
  const int64_t n = t.dim(0), half = dout.dim(1) / 2;
  const float* time = t.f32();
  const float* dy = dout.f32();
  float* dtime = dt.f32();
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < n; ++s) {
    const float* row = dy + s * 2 * half;
    double total = 0.0;
    for (int64_t i = 0; i < half; ++i) total += timestep_grad_term(time[s], i, half, row[i], row[half + i]);
    dtime[s] = static_cast<float>(total);
  }
}

namespace {

// Labels come from data files and user configs, so an out-of-range one is an
// input error to report, not a crash. Checked before any write.
const int32_t* checked_labels(const Tensor& labels, int64_t classes, const char* op) {
  const int32_t* label = labels.i32();
  for (int64_t s = 0; s < labels.dim(0); ++s)
    DIFFUSE_CHECK(label[s] >= 0 && label[s] < classes, op, ": label ", label[s], " of sample ", s,
                  " is outside [0, K=", classes, ")");
  return label;
}

}  // namespace

void CpuBackend::embedding_forward(const Tensor& table, const Tensor& labels, const Tensor& out) {
  const int64_t n = labels.dim(0), classes = table.dim(0), width = table.dim(1);
  const int32_t* label = checked_labels(labels, classes, "embedding_forward");
  const float* rows = table.f32();
  float* y = out.f32();
  for (int64_t s = 0; s < n; ++s)
    if (width) std::memcpy(y + s * width, rows + label[s] * width, static_cast<size_t>(width) * sizeof(float));
}

void CpuBackend::embedding_backward(const Tensor& labels, const Tensor& dout, const Tensor& dtable) {
  const int64_t n = labels.dim(0), classes = dtable.dim(0), width = dtable.dim(1);
  const int32_t* label = checked_labels(labels, classes, "embedding_backward");
  const float* dy = dout.f32();
  float* dw = dtable.f32();
  // Serial: samples with the same label add into the same row.
  for (int64_t s = 0; s < n; ++s) {
    float* row = dw + label[s] * width;
    const float* grad = dy + s * width;
    for (int64_t d = 0; d < width; ++d) row[d] += grad[d];
  }
}

}  // namespace diffuse::cpu
