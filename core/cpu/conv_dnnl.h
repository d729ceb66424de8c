// The CPU convolution on oneDNN's primitives (direct and brgemm kernels for
// NHWC activations), in fp32 or, when the matmul dtype says so, with bf16
// operands and fp32 results. One plan per problem and thread holds the
// primitives and the weight reorders, built on first use. Each function
// returns false, having done nothing, when oneDNN offers only its reference
// loops for the problem (odd channel counts such as 1); the caller then uses
// the im2col path.
#pragma once

#include <string>

#include "core/cpu/conv_geometry.h"
#include "core/dtype.h"

namespace diffuse::cpu {

// y = conv(x, weight) + bias (bias may be null).
bool dnnl_conv_forward(const ConvGeometry& g, DType compute, const float* x, const float* weight, const float* bias,
                       float* y);

// dx = the input gradient (overwritten).
bool dnnl_conv_backward_data(const ConvGeometry& g, DType compute, const float* dy, const float* weight, float* dx);

// dweight += the filter gradient.
bool dnnl_conv_backward_weights(const ConvGeometry& g, DType compute, const float* x, const float* dy, float* dweight);

// The implementations a problem runs on, "forward / backward data / backward
// weights", each oneDNN's name for its kernel or "im2col" (tests).
std::string conv_implementations(const ConvGeometry& g, DType compute);

}  // namespace diffuse::cpu
