// CudaBackend: every op of core/backend_ops.h on an NVIDIA GPU, on the current
// device's compute stream (core/cuda/context.h). Convolutions run on cuDNN,
// linear layers and attention products on cuBLAS, the rest on our kernels;
// the element math comes from core/math/, shared with the CPU backend. No op
// waits for the GPU except sum_of_squares, which returns a host number.
// Methods are defined one op family per file in this folder:
//   conv_cudnn.cpp  linear.cpp  attention.cpp (+ softmax.cu)  group_norm.cu  elementwise.cu
//   resample.cu  random.cu  embedding.cu  loss.cu  optimizer.cu  cast.cu
//   pool.cu  resize.cu  cross_entropy.cu (the evaluation networks' ops)
// Plain C++: no CUDA headers.
#pragma once

#include "core/backend.h"

namespace diffuse::cuda {

class CudaBackend final : public Backend {
 public:
  const char* name() const override { return "cuda"; }

  DIFFUSE_BACKEND_OPS(DIFFUSE_BACKEND_OVERRIDE)
};

}  // namespace diffuse::cuda
