// The CPU convolution on oneDNN's primitives (direct and brgemm kernels for
// NHWC activations), in fp32 or, when the matmul dtype says so, with bf16
// operands and fp32 results. One plan per problem and thread holds the
// primitives and the weight reorders, built on first use. Each function
// returns false (or says which parts it did), having done nothing else, when
// oneDNN offers only its reference loops for the problem or cannot compute its
// data type on this CPU; the caller then uses the im2col path.
#pragma once

#include <string>

#include "core/cpu/conv_geometry.h"
#include "core/dtype.h"

namespace diffuse::cpu {

// y = conv(x, weight) + bias (bias may be null).
bool dnnl_conv_forward(const ConvGeometry& g, DType compute, const float* x, const float* weight, const float* bias,
                       float* y);

// Which backward products dnnl_conv_backward computed.
struct DnnlBackward {
  bool data = false;
  bool weights = false;
};

// dweight += the filter gradient and dx = the input gradient (overwritten), each skipped when its pointer is
// null; dy is rounded to the compute type once for both.
DnnlBackward dnnl_conv_backward(const ConvGeometry& g, DType compute, const float* x, const float* dy,
                                const float* weight, float* dx, float* dweight);

// The implementations a problem runs on, "forward / backward data / backward
// weights", each oneDNN's name for its kernel or "im2col" (tests).
std::string conv_implementations(const ConvGeometry& g, DType compute);

}  // namespace diffuse::cpu
