// Softmax cross-entropy over class logits on the GPU (the evaluation
// classifier's loss): per-sample losses and the gradient of loss_scale * their
// sum, with the CPU's arithmetic (the row maximum subtracted, exponentials
// summed in double). One warp per sample. Out-of-range labels are recorded
// in the context's fault word and thrown at the next synchronisation.
#include <cmath>

#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"

namespace diffuse::cuda {

namespace {

// log(sum_k exp(row[k])) around the row's maximum; every lane gets it.
__device__ double log_sum_exp(const float* row, int64_t classes, int lane) {
  float largest = -INFINITY;
  for (int64_t k = lane; k < classes; k += 32) largest = fmaxf(largest, row[k]);
  largest = warp_max(largest);
  double total = 0.0;
  for (int64_t k = lane; k < classes; k += 32) total += exp(static_cast<double>(row[k]) - largest);
  return largest + log(warp_sum(total));
}

__global__ void cross_entropy_kernel(const float* logits, const int32_t* labels, float* loss, float* grad,
                                     float loss_scale, int64_t n, int64_t classes, KernelFault* fault) {
  const int64_t s = warp_row();
  if (s >= n) return;
  const int lane = warp_lane();
  const int32_t label = labels[s];
  if (label < 0 || label >= classes) {
    if (lane == 0) record_fault(fault, kFaultCrossEntropyLabel, label, static_cast<int>(s), static_cast<int>(classes));
    return;
  }
  const float* row = logits + s * classes;
  const double normaliser = log_sum_exp(row, classes, lane);
  if (loss != nullptr && lane == 0) loss[s] = static_cast<float>(normaliser - row[label]);
  if (grad != nullptr)
    for (int64_t k = lane; k < classes; k += 32) {
      const double probability = exp(static_cast<double>(row[k]) - normaliser);
      grad[s * classes + k] = static_cast<float>(loss_scale * (probability - (k == label ? 1.0 : 0.0)));
    }
}

void launch(const Tensor& logits, const Tensor& labels, float* loss, float* grad, float loss_scale) {
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  if (n == 0) return;
  DeviceContext& device = context();
  launch_kernel(cross_entropy_kernel, blocks_for_rows(n), kWarpsPerBlock * 32, device_data<float>(logits),
                device_data<int32_t>(labels), loss, grad, loss_scale, n, classes, device.faults());
}

}  // namespace

void CudaBackend::cross_entropy_forward(const Tensor& logits, const Tensor& labels, const Tensor& per_sample) {
  launch(logits, labels, device_data<float>(per_sample), nullptr, 0.0f);
}

void CudaBackend::cross_entropy_backward(const Tensor& logits, const Tensor& labels, float loss_scale,
                                         const Tensor& dlogits) {
  launch(logits, labels, nullptr, device_data<float>(dlogits), loss_scale);
}

}  // namespace diffuse::cuda
