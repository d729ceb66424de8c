// ResBlock: DDPM's residual block with a time-embedding input,
//   h = conv1(SiLU(GroupNorm1(x))) + temb_proj(temb) (broadcast over pixels)
//   y = skip(x) + conv2(dropout(SiLU(GroupNorm2(h))))
// where temb [N,T] is SiLU(time embedding), computed once by the U-Net and
// shared by every block, and skip is a 1x1 conv when the channel count changes
// (identity otherwise). Two options of ADM (Dhariwal & Nichol 2021, guided-diffusion's ResBlock):
//  - scale_shift_norm (AdaGN): temb_proj outputs 2*out values, scale then shift, and instead
//      h = conv1(SiLU(GroupNorm1(x)))
//      y = skip(x) + conv2(dropout(SiLU(GroupNorm2(h) * (1 + scale) + shift)))
//  - resample (BigGAN-style up/down): SiLU(GroupNorm1(x)) and x are both resampled (2x2 average pool
//    for kDown, nearest 2x for kUp) before conv1 and the skip, so y has half / twice x's resolution.
// Parameters under <name>:
//   norm1.gamma/beta [in]; conv1.weight [out,3,3,in], conv1.bias [out];
//   temb_proj.weight [out,T] ([2*out,T] with scale_shift_norm: scale rows, then shift rows),
//   temb_proj.bias [out] ([2*out]); norm2.gamma/beta [out];
//   conv2.weight [out,3,3,out] (init scale 1e-10, as DDPM), conv2.bias [out];
//   skip.weight [out,1,1,in], skip.bias [out] (only when in != out).
//
// Backward ACCUMULATES parameter gradients into the store's gradient views and
// WRITES dx and dtemb. The inputs passed to forward must stay unchanged until backward.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/ops.h"
#include "core/tensor.h"
#include "model/conv2d.h"
#include "model/forward_context.h"
#include "model/group_norm.h"
#include "model/linear.h"
#include "model/parameters.h"

namespace diffuse::model {

// How a ResBlock changes the resolution of its input.
enum class Resample { kNone, kDown, kUp };

struct ResBlockSpec {
  int in_channels = 0;
  int out_channels = 0;
  int temb_channels = 0;
  int groups = 32;
  float dropout = 0.0f;        // probability of zeroing, in training mode
  uint32_t dropout_layer = 0;  // distinct per dropout site of a model: part of the mask's random key
  bool scale_shift_norm = false;
  Resample resample = Resample::kNone;
};

// What the scale-shift (AdaGN) path keeps for backward; the plain path's sub-layers keep their own.
struct ResBlockActivations {
  Tensor normalized;     // [N,H,W,out] GroupNorm2(h), read by the scale gradient
  Tensor modulation;     // [N,2*out] temb_proj's output: scale, then shift
  Tensor modulated;      // [N,H,W,out] normalized * (1 + scale) + shift, SiLU's input
  ops::Dropout dropout;  // the dropout applied after SiLU, regenerated in backward
};

class ResBlock {
 public:
  ResBlock(ParameterStore& store, const std::string& name, const ResBlockSpec& spec);

  // x [N,H,W,in], temb [N,T] f32 -> y [N,H',W',out], a new tensor in x's dtype (H' = H, H/2 or 2H by
  // spec.resample).
  Tensor forward(const Tensor& x, const Tensor& temb, const ForwardContext& context);
  // dy [N,H',W',out] -> dx [N,H,W,in], a new tensor the block does not keep; dtemb() holds d temb.
  Tensor backward(const Tensor& dy);
  // [N,T] gradient of the temb input from the last backward.
  const Tensor& dtemb() const { return dtemb_; }

  // For an input of height x width.
  double macs_per_image(int64_t height, int64_t width) const;
  // Bytes forward keeps for backward in training mode (dropout active when p > 0), with activations of dtype
  // `activations`.
  int64_t activation_bytes(int64_t batch, int64_t height, int64_t width, DType activations) const;

  const ResBlockSpec& spec() const { return spec_; }

 private:
  int64_t output_size(int64_t size) const;
  Tensor resample_forward(const Tensor& x) const;
  Tensor resample_backward(const Tensor& dy) const;
  Tensor modulated_forward(const Tensor& h, const Tensor& temb, const ops::Dropout& dropout);
  Tensor modulated_backward(const Tensor& g);

  ResBlockSpec spec_;
  GroupNorm norm1_;               // <name>.norm1, with SiLU
  Conv2d conv1_;                  // <name>.conv1, 3x3, in -> out
  Linear temb_proj_;              // <name>.temb_proj, T -> out (2*out with scale_shift_norm)
  GroupNorm norm2_;               // <name>.norm2, with SiLU and dropout (without both under scale_shift_norm)
  Conv2d conv2_;                  // <name>.conv2, 3x3, out -> out, starts near zero
  std::unique_ptr<Conv2d> skip_;  // <name>.skip, 1x1, in -> out; null when in == out
  ResBlockActivations activations_;
  Tensor dtemb_channels_;  // [N,out] / [N,2*out] backward's d(temb_proj output)
  Tensor dtemb_;           // [N,T] temb_proj's input gradient (a handle)
};

}  // namespace diffuse::model
