// CPU linear layer: y [M,N] = x [M,K] weight[N,K]^T + bias [N], and its
// backward (dx written, dweight and dbias accumulated), as GEMMs.
#include "core/cpu/cpu_backend.h"
#include "core/cpu/gemm.h"

namespace diffuse::cpu {

void CpuBackend::linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y) {
  const int64_t rows = x.dim(0), in_features = x.dim(1), out_features = weight.dim(0);
  // The bias is broadcast into y first and the GEMM adds onto it (beta = 1).
  if (bias.defined()) fill_rows(y.f32(), rows, out_features, bias.f32());
  gemm(Transpose::No, Transpose::Yes, rows, out_features, in_features, 1.0f, x.f32(), in_features, weight.f32(),
       in_features, bias.defined() ? 1.0f : 0.0f, y.f32(), out_features);
}

void CpuBackend::linear_backward(const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor& dx,
                                 const Tensor& dweight, const Tensor& dbias) {
  const int64_t rows = x.dim(0), in_features = x.dim(1), out_features = weight.dim(0);
  if (dx.defined())  // dx [M,K] = dy [M,N] weight [N,K]
    gemm(Transpose::No, Transpose::No, rows, in_features, out_features, 1.0f, dy.f32(), out_features, weight.f32(),
         in_features, 0.0f, dx.f32(), in_features);
  if (dweight.defined())  // dweight [N,K] += dy^T x
    gemm(Transpose::Yes, Transpose::No, out_features, in_features, rows, 1.0f, dy.f32(), out_features, x.f32(),
         in_features, 1.0f, dweight.f32(), in_features);
  if (dbias.defined()) add_column_sums(dy.f32(), rows, out_features, dbias.f32());
}

}  // namespace diffuse::cpu
