// The CUDA ops that run on cuDNN and cuBLAS (conv2d.., linear.., attention..)
// have no host emulation: in the emulated backend (core/cuda/host_emulation.h)
// they throw, naming the op. The row softmax between attention's products is
// our kernel and is emulated (softmax.cu).
#include "core/cuda/cuda_backend.h"
#include "core/error.h"

namespace diffuse::cuda {

namespace {

void library_op(const char* op) {
  DIFFUSE_CHECK(false, op, " runs on cuDNN/cuBLAS, which the host emulation of the CUDA kernels does not provide");
}

}  // namespace

void CudaBackend::conv2d_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                 const Conv2dWindow&) {
  library_op("conv2d_forward");
}

void CudaBackend::conv2d_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                  const Tensor&, const Conv2dWindow&) {
  library_op("conv2d_backward");
}

void CudaBackend::linear_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&) {
  library_op("linear_forward");
}

void CudaBackend::linear_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                  const Tensor&) {
  library_op("linear_backward");
}

void CudaBackend::attention_forward(const Tensor&, const Tensor&, const Tensor&, int) {
  library_op("attention_forward");
}

void CudaBackend::attention_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, int) {
  library_op("attention_backward");
}

}  // namespace diffuse::cuda
