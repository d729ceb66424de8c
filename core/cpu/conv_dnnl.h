// The CPU convolution on oneDNN's primitives (direct and brgemm kernels for
// NHWC activations). Activations (x, y, dx, dy) are stored in fp32 or bf16,
// weights in fp32 or the activations' type, weight gradients always in fp32;
// the products are in the compute type with fp32 accumulation: fp32 operands
// are rounded to it on the fly when it is bf16 (the matmul dtype), bf16
// operands are read as they are. One plan per problem and thread holds the
// primitives and the weight reorders, built on first use. Each function
// returns false (or says which parts it did), having done nothing else, when
// oneDNN offers only its reference loops for the problem or cannot compute its
// data type on this CPU; the caller then uses the fp32 im2col path.
#pragma once

#include <string>

#include "core/cpu/conv_geometry.h"
#include "core/dtype.h"

namespace diffuse::cpu {

// The element types of one convolution: what it multiplies in and how its activations and weights are stored.
// bf16 activations need bf16 compute.
struct DnnlConvTypes {
  DType compute = DType::F32;
  DType activations = DType::F32;
  DType weights = DType::F32;
};

// y = conv(x, weight) + bias (bias may be null), plus y's previous contents when `add_to_y` (a skip connection
// copied into y first, added before the one rounding of a bf16 y).
bool dnnl_conv_forward(const ConvGeometry& g, const DnnlConvTypes& types, const void* x, const void* weight,
                       const float* bias, bool add_to_y, void* y);

// Which backward products dnnl_conv_backward computed.
struct DnnlBackward {
  bool data = false;
  bool weights = false;
};

// dweight (fp32) += the filter gradient and dx = the input gradient (overwritten), each skipped when its pointer is
// null; dy is rounded to the compute type once for both.
DnnlBackward dnnl_conv_backward(const ConvGeometry& g, const DnnlConvTypes& types, const void* x, const void* dy,
                                const void* weight, void* dx, float* dweight);

// The implementations a problem runs on, "forward / backward data / backward
// weights", each oneDNN's name for its kernel or "im2col" (tests).
std::string conv_implementations(const ConvGeometry& g, const DnnlConvTypes& types);

}  // namespace diffuse::cpu
