// CPU 2-D convolution, NHWC activations and [Co,Kh,Kw,Ci] weights: oneDNN's
// kernels where it has them for the shape (conv_dnnl.h), the im2col GEMMs
// otherwise (conv_im2col.h). Products are bf16 when the matmul dtype says so
// and the CPU multiplies bf16 natively, fp32 otherwise (fp16 included); the
// im2col path is fp32 only.
#include <atomic>

#include "core/cpu/conv_dnnl.h"
#include "core/cpu/conv_im2col.h"
#include "core/cpu/cpu_backend.h"
#include "core/cpu/gemm.h"
#include "core/matmul_precision.h"

namespace diffuse::cpu {

namespace {

std::atomic<bool> im2col_only{false};

DType compute_dtype() {
  const DType wanted = matmul_dtype();
  return cpu_multiplies_natively(wanted) ? wanted : DType::F32;
}

}  // namespace

ScopedIm2colConvolution::ScopedIm2colConvolution() : previous_(im2col_only.exchange(true)) {}
ScopedIm2colConvolution::~ScopedIm2colConvolution() { im2col_only.store(previous_); }

void CpuBackend::conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual,
                                const Tensor& y, const Conv2dWindow& window) {
  const ConvGeometry g = ConvGeometry::of(x, weight, window);
  const float* bias_values = bias.defined() ? bias.f32() : nullptr;
  if (im2col_only || !dnnl_conv_forward(g, compute_dtype(), x.f32(), weight.f32(), bias_values, y.f32()))
    im2col_conv_forward(g, x.f32(), weight.f32(), bias_values, y.f32());
  if (residual.defined()) add(y, residual, y);
}

void CpuBackend::conv2d_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                                 const Tensor& dweight, const Tensor& dbias, const Conv2dWindow& window) {
  const ConvGeometry g = ConvGeometry::of(x, weight, window);
  const DType compute = compute_dtype();
  if (dbias.defined()) add_column_sums(dy.f32(), g.out_pixels(), g.out_channels, dbias.f32());
  float* dx_values = dx.defined() ? dx.f32() : nullptr;
  float* dweight_values = dweight.defined() ? dweight.f32() : nullptr;
  const DnnlBackward done =
      im2col_only ? DnnlBackward{}
                  : dnnl_conv_backward(g, compute, x.f32(), dy.f32(), weight.f32(), dx_values, dweight_values);
  if (dweight_values != nullptr && !done.weights) im2col_conv_backward_weights(g, x.f32(), dy.f32(), dweight_values);
  if (dx_values != nullptr && !done.data) im2col_conv_backward_data(g, dy.f32(), weight.f32(), dx_values);
}

}  // namespace diffuse::cpu
