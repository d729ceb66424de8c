// Sinusoidal timestep embedding and class-label embedding on the GPU, forward
// and backward, with the CPU's formulas (core/math/embedding.h: angles and
// gradient terms in double; sums in double).
//
// Labels come from data files and configs, so an out-of-range one is an input
// error, not a crash: the kernels skip it (its output row is zero) and record
// it in the context's fault word, which the next synchronisation (a copy to
// the host, sum_of_squares, synchronize()) throws as an Error naming the
// label and the sample. No host sync here.
#include "core/cuda/cuda_backend.h"
#include "core/cuda/kernel_support.cuh"
#include "core/math/embedding.h"

namespace diffuse::cuda {

namespace {

// out [N, 2H]: thread per (sample, i < H) writes sin and cos of t * f_i.
__global__ void timestep_embedding_kernel(const float* t, float* out, int64_t half, int64_t count) {
  for (int64_t k = grid_start(); k < count; k += grid_stride()) {
    const int64_t s = k / half, i = k % half;
    const double angle = timestep_angle(t[s], i, half);
    out[s * 2 * half + i] = static_cast<float>(sin(angle));
    out[s * 2 * half + half + i] = static_cast<float>(cos(angle));
  }
}

// dt [N]: one warp per sample sums f (dsin cos - dcos sin) over the frequencies in double.
__global__ void timestep_embedding_backward_kernel(const float* t, const float* dout, float* dt, int64_t n,
                                                   int64_t half) {
  const int64_t s = warp_row();
  if (s >= n) return;
  const int lane = warp_lane();
  const float* row = dout + s * 2 * half;
  double total = 0.0;
  for (int64_t i = lane; i < half; i += 32) total += timestep_grad_term(t[s], i, half, row[i], row[half + i]);
  total = warp_sum(total);
  if (lane == 0) dt[s] = static_cast<float>(total);
}

// out [N, D]: thread per (sample, d) copies its label's row.
__global__ void embedding_forward_kernel(const float* table, const int32_t* labels, float* out, int64_t classes,
                                         int64_t width, KernelFault* fault, int64_t count) {
  for (int64_t k = grid_start(); k < count; k += grid_stride()) {
    const int64_t s = k / width, d = k % width;
    const int32_t label = labels[s];
    if (label < 0 || label >= classes) {
      if (d == 0)
        record_fault(fault, kFaultEmbeddingForwardLabel, label, static_cast<int>(s), static_cast<int>(classes));
      out[k] = 0.0f;
    } else {
      out[k] = table[label * width + d];
    }
  }
}

// dtable [K, D] += scatter: thread per (row, d) adds the samples with that label in sample order, the CPU's
// order, so the sum is bit-identical and needs no atomics.
__global__ void embedding_backward_kernel(const int32_t* labels, const float* dout, float* dtable, int64_t n,
                                          int64_t classes, int64_t width, KernelFault* fault, int64_t count) {
  for (int64_t k = grid_start(); k < count; k += grid_stride()) {
    const int64_t row = k / width, d = k % width;
    float sum = dtable[k];
    for (int64_t s = 0; s < n; ++s) {
      const int32_t label = labels[s];
      if (label == row) sum += dout[s * width + d];
      if (k == 0 && (label < 0 || label >= classes))
        record_fault(fault, kFaultEmbeddingBackwardLabel, label, static_cast<int>(s), static_cast<int>(classes));
    }
    dtable[k] = sum;
  }
}

}  // namespace

void CudaBackend::timestep_embedding_forward(const Tensor& t, const Tensor& out) {
  const int64_t half = out.dim(1) / 2;
  launch_elements(timestep_embedding_kernel, t.dim(0) * half, device_data<float>(t), device_data<float>(out), half);
}

void CudaBackend::timestep_embedding_backward(const Tensor& t, const Tensor& dout, const Tensor& dt) {
  const int64_t n = t.dim(0), half = dout.dim(1) / 2;
  if (n == 0) return;
  launch_kernel(timestep_embedding_backward_kernel, blocks_for_rows(n), kWarpsPerBlock * 32, device_data<float>(t),
                device_data<float>(dout), device_data<float>(dt), n, half);
}

void CudaBackend::embedding_forward(const Tensor& table, const Tensor& labels, const Tensor& out) {
  launch_elements(embedding_forward_kernel, out.numel(), device_data<float>(table), device_data<int32_t>(labels),
                  device_data<float>(out), table.dim(0), table.dim(1), context().faults());
}

void CudaBackend::embedding_backward(const Tensor& labels, const Tensor& dout, const Tensor& dtable) {
  launch_elements(embedding_backward_kernel, dtable.numel(), device_data<int32_t>(labels), device_data<float>(dout),
                  device_data<float>(dtable), labels.dim(0), dtable.dim(0), dtable.dim(1), context().faults());
}

}  // namespace diffuse::cuda
