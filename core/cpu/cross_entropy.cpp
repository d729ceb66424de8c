// CPU softmax cross-entropy over class logits (the evaluation classifier's
// loss): per-sample losses and the gradient of loss_scale * their sum. The
// softmax subtracts the row maximum first, so large logits do not overflow.
#include <algorithm>
#include <cmath>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"

namespace diffuse::cpu {

namespace {

void check_label(int32_t label, int64_t classes) {
  DIFFUSE_CHECK(label >= 0 && label < classes, "cross_entropy: label ", label, " is outside [0, ", classes, ")");
}

// log(sum_k exp(row[k])), computed around the row's maximum.
double log_sum_exp(const float* row, int64_t classes) {
  const float largest = *std::max_element(row, row + classes);
  double total = 0.0;
  for (int64_t k = 0; k < classes; ++k) total += std::exp(static_cast<double>(row[k]) - largest);
  return largest + std::log(total);
}

}  // namespace

void CpuBackend::cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& per_sample) {
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  const float* z = logits.f32();
  const int32_t* label = labels.i32();
  float* loss = per_sample.f32();
  for (int64_t s = 0; s < n; ++s) check_label(label[s], classes);
#pragma omp parallel for schedule(static) if (worth_threads(n * classes))
  for (int64_t s = 0; s < n; ++s) {
    const float* row = z + s * classes;
    loss[s] = static_cast<float>(log_sum_exp(row, classes) - row[label[s]]);
  }
}

void CpuBackend::cross_entropy_backward(const Tensor& logits, const Tensor& labels, float loss_scale,
                                        const Tensor& dlogits) {
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  const float* z = logits.f32();
  const int32_t* label = labels.i32();
  float* grad = dlogits.f32();
  for (int64_t s = 0; s < n; ++s) check_label(label[s], classes);
#pragma omp parallel for schedule(static) if (worth_threads(n * classes))
  for (int64_t s = 0; s < n; ++s) {
    const float* row = z + s * classes;
    const double normaliser = log_sum_exp(row, classes);
    for (int64_t k = 0; k < classes; ++k) {
      const double probability = std::exp(static_cast<double>(row[k]) - normaliser);
      grad[s * classes + k] = static_cast<float>(loss_scale * (probability - (k == label[s] ? 1.0 : 0.0)));
    }
  }
}

}  // namespace diffuse::cpu
