// CPU linear layer: y [M,N] = x [M,K] weight[N,K]^T + bias [N], and its
// backward (dx written, dweight and dbias accumulated), as GEMMs. bf16
// activations multiply in bf16 (gemm_bf16.h: fp32 accumulation into fp32
// results, y and dx rounded once, dweight accumulated in fp32), on widened
// copies in fp32 where the CPU cannot (widened.h).
#include "core/cpu/cpu_backend.h"
#include "core/cpu/gemm.h"
#include "core/cpu/gemm_bf16.h"
#include "core/cpu/widened.h"
#include "core/float_storage.h"

namespace diffuse::cpu {

namespace {

// The weight as a bf16 operand: itself when it is the bf16 copy, else rounded into `buffer`.
const bf16* bf16_weight(const Tensor& weight, ScratchBuffer& buffer) {
  if (weight.dtype() == DType::BF16) return storage_data<bf16>(weight);
  return rounded_bf16(weight.f32(), weight.numel(), buffer);
}

thread_local ScratchBuffer rounded_weight;

}  // namespace

void CpuBackend::linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y) {
  const int64_t rows = x.dim(0), in_features = x.dim(1), out_features = weight.dim(0);
  if (x.dtype() != DType::F32 && !bf16_products_native()) {
    const Tensor computed = f32_output(y);
    linear_forward(widened(x), widened(weight), bias, computed);
    return round_into(computed, y);
  }
  const Tensor out = f32_output(y);  // bf16 products write fp32, rounded into y once
  // The bias is broadcast into the result first and the GEMM adds onto it (beta = 1).
  if (bias.defined()) fill_rows(out.f32(), rows, out_features, bias.f32());
  const float beta = bias.defined() ? 1.0f : 0.0f;
  if (x.dtype() == DType::F32) {
    gemm(Transpose::No, Transpose::Yes, rows, out_features, in_features, 1.0f, x.f32(), in_features, weight.f32(),
         in_features, beta, out.f32(), out_features);
  } else {
    gemm(Transpose::No, Transpose::Yes, rows, out_features, in_features, 1.0f, storage_data<bf16>(x), in_features,
         bf16_weight(weight, rounded_weight), in_features, beta, out.f32(), out_features);
  }
  round_into(out, y);
}

void CpuBackend::linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                                 const Tensor& dweight, const Tensor& dbias) {
  const int64_t rows = x.dim(0), in_features = x.dim(1), out_features = weight.dim(0);
  if (x.dtype() != DType::F32 && !bf16_products_native()) {
    const Tensor computed = f32_output(dx);
    linear_backward(widened(x), widened(weight), widened(dy), computed, dweight, dbias);
    return round_into(computed, dx);
  }
  if (x.dtype() == DType::F32) {
    if (dx.defined())  // dx [M,K] = dy [M,N] weight [N,K]
      gemm(Transpose::No, Transpose::No, rows, in_features, out_features, 1.0f, dy.f32(), out_features, weight.f32(),
           in_features, 0.0f, dx.f32(), in_features);
    if (dweight.defined())  // dweight [N,K] += dy^T x
      gemm(Transpose::Yes, Transpose::No, out_features, in_features, rows, 1.0f, dy.f32(), out_features, x.f32(),
           in_features, 1.0f, dweight.f32(), in_features);
    if (dbias.defined()) add_column_sums(dy.f32(), rows, out_features, dbias.f32());
    return;
  }
  if (dx.defined()) {
    const Tensor computed = f32_output(dx);
    gemm(Transpose::No, Transpose::No, rows, in_features, out_features, 1.0f, storage_data<bf16>(dy), out_features,
         bf16_weight(weight, rounded_weight), in_features, 0.0f, computed.f32(), in_features);
    round_into(computed, dx);
  }
  if (dweight.defined())  // accumulated in fp32 straight from the bf16 products
    gemm(Transpose::Yes, Transpose::No, out_features, in_features, rows, 1.0f, storage_data<bf16>(dy), out_features,
         storage_data<bf16>(x), in_features, 1.0f, dweight.f32(), in_features);
  if (dbias.defined()) add_column_sums(storage_data<bf16>(dy), rows, out_features, dbias.f32());
}

}  // namespace diffuse::cpu
