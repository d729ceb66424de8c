// The CPU convolution on GEMMs: forward, data gradient and filter gradient
// over an im2col patch matrix [rows, Kh*Kw*Ci] whose columns follow the
// weight's (ky, kx, ci) order; a 1x1 stride-1 convolution is a plain GEMM on x
// viewed as [N*H*W, Ci]. The patch matrix is built in chunks of output lines
// (one output image row over the batch) so that it stays within
// scratch_budget_bytes() however large the batch. It serves the shapes for
// which oneDNN has no optimized kernel (conv_dnnl.h), always in fp32.
#pragma once

#include "core/cpu/conv_geometry.h"

namespace diffuse::cpu {

// y = conv(x, weight) + bias (bias may be null).
void im2col_conv_forward(const ConvGeometry& g, const float* x, const float* weight, const float* bias, float* y);

// dx = the input gradient for output gradient dy (overwritten).
void im2col_conv_backward_data(const ConvGeometry& g, const float* dy, const float* weight, float* dx);

// dweight += the filter gradient for input x and output gradient dy.
void im2col_conv_backward_weights(const ConvGeometry& g, const float* x, const float* dy, float* dweight);

// While alive, every CPU convolution takes the im2col path, so that tests
// cover it on CPUs where oneDNN has kernels for every shape.
class ScopedIm2colConvolution {
 public:
  ScopedIm2colConvolution();
  ~ScopedIm2colConvolution();
  ScopedIm2colConvolution(const ScopedIm2colConvolution&) = delete;
  ScopedIm2colConvolution& operator=(const ScopedIm2colConvolution&) = delete;

 private:
  bool previous_;
};

}  // namespace diffuse::cpu
