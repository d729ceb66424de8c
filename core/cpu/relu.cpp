// CPU ReLU, forward and backward (the Inception network and the evaluation
// classifier); one elementwise OpenMP loop each over core/math/activation.h.
// Activations are f32, bf16 or f16: the loops widen on load and round once on store.
#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"
#include "core/float_storage.h"
#include "core/math/activation.h"

namespace diffuse::cpu {

namespace {

template <typename T>
void relu_elements(const Tensor& x, const Tensor& y) {
  const int64_t count = x.numel();
  const T* in = storage_data<T>(x);
  T* out = storage_data<T>(y);
#pragma omp parallel for schedule(static) if (worth_threads(count))
  for (int64_t i = 0; i < count; ++i) out[i] = from_float<T>(relu(to_float(in[i])));
}

template <typename T>
void relu_gradient_elements(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  const int64_t count = x.numel();
  const T* in = storage_data<T>(x);
  const T* grad_out = storage_data<T>(dy);
  T* grad_in = storage_data<T>(dx);
#pragma omp parallel for schedule(static) if (worth_threads(count))
  for (int64_t i = 0; i < count; ++i)
    grad_in[i] = from_float<T>(relu_input_grad(to_float(in[i]), to_float(grad_out[i])));
}

}  // namespace

void CpuBackend::relu_forward(const Tensor& x, const Tensor& y) {
  with_storage_type(x.dtype(), [&](auto tag) { relu_elements<decltype(tag)>(x, y); });
}

void CpuBackend::relu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx) {
  with_storage_type(x.dtype(), [&](auto tag) { relu_gradient_elements<decltype(tag)>(x, dy, dx); });
}

}  // namespace diffuse::cpu
