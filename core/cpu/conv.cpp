// CPU 2-D convolution, NHWC activations and [Co,Kh,Kw,Ci] weights: oneDNN's
// kernels where it has them for the shape (conv_dnnl.h), the im2col GEMMs
// otherwise (conv_im2col.h). fp32 activations multiply in bf16 when the matmul
// dtype says so and the CPU multiplies bf16 natively, in fp32 otherwise (fp16
// included); bf16 activations multiply in bf16 with fp32 accumulation, on
// widened copies in fp32 where oneDNN cannot (widened.h). The im2col path is
// fp32 only.
#include <atomic>
#include <cstring>

#include "core/cpu/conv_dnnl.h"
#include "core/cpu/conv_im2col.h"
#include "core/cpu/cpu_backend.h"
#include "core/cpu/gemm.h"
#include "core/cpu/widened.h"
#include "core/float_storage.h"
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
  if (x.dtype() == DType::F32) {
    if (im2col_only || !dnnl_conv_forward(g, {compute_dtype()}, x.raw(), weight.raw(), bias_values, false, y.raw()))
      im2col_conv_forward(g, x.f32(), weight.f32(), bias_values, y.f32());
    if (residual.defined()) add(y, residual, y);
    return;
  }
  if (!im2col_only && bf16_products_native()) {
    // The skip connection is copied into y and the primitive adds it before rounding y once.
    if (residual.defined()) std::memcpy(y.raw(), residual.raw(), y.nbytes());
    if (dnnl_conv_forward(g, {DType::BF16, DType::BF16, weight.dtype()}, x.raw(), weight.raw(), bias_values,
                          residual.defined(), y.raw()))
      return;
  }
  const Tensor computed = f32_output(y);
  conv2d_forward(widened(x), widened(weight), bias, widened(residual), computed, window);
  round_into(computed, y);
}

void CpuBackend::conv2d_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                                 const Tensor& dweight, const Tensor& dbias, const Conv2dWindow& window) {
  const ConvGeometry g = ConvGeometry::of(x, weight, window);
  if (x.dtype() == DType::F32) {
    const DType compute = compute_dtype();
    if (dbias.defined()) add_column_sums(dy.f32(), g.out_pixels(), g.out_channels, dbias.f32());
    float* dx_values = dx.defined() ? dx.f32() : nullptr;
    float* dweight_values = dweight.defined() ? dweight.f32() : nullptr;
    const DnnlBackward done =
        im2col_only ? DnnlBackward{}
                    : dnnl_conv_backward(g, {compute}, x.raw(), dy.raw(), weight.raw(), dx_values, dweight_values);
    if (dweight_values != nullptr && !done.weights) im2col_conv_backward_weights(g, x.f32(), dy.f32(), dweight_values);
    if (dx_values != nullptr && !done.data) im2col_conv_backward_data(g, dy.f32(), weight.f32(), dx_values);
    return;
  }
  if (dbias.defined()) add_column_sums(storage_data<bf16>(dy), g.out_pixels(), g.out_channels, dbias.f32());
  DnnlBackward done;
  if (!im2col_only && bf16_products_native())
    done = dnnl_conv_backward(g, {DType::BF16, DType::BF16, weight.dtype()}, x.raw(), dy.raw(), weight.raw(),
                              dx.defined() ? dx.raw() : nullptr, dweight.defined() ? dweight.f32() : nullptr);
  const bool data = dx.defined() && !done.data, weights = dweight.defined() && !done.weights;
  if (!data && !weights) return;
  const Tensor computed = data ? f32_output(dx) : Tensor();
  conv2d_backward(widened(x), widened(weight), widened(dy), computed, weights ? dweight : Tensor(), Tensor(), window);
  if (data) round_into(computed, dx);
}

}  // namespace diffuse::cpu
