// Our U-Net run on the inputs of a diffusers UNet2DModel, as a safetensors file holds them: "sample" [N,C,H,W],
// "timestep" [N] and, for class-conditional models, "class_labels" [N] (float values). Shared by the diffusers
// tests (tests/run/test_diffusers.cpp, tests/cli/unet_forward.cpp), which compare with diffusers' output.
#pragma once

#include <cstdint>
#include <cstring>

#include "io/safetensors.h"
#include "model/layer_support.h"
#include "model/unet.h"

namespace diffuse::testing {

// [N,A,B,C] -> [N,C,A,B] (to_channels_first) or [N,A,B,C] -> [N,B,C,A] (the inverse, read as [N,C,H,W] -> NHWC).
inline Tensor move_channels(const Tensor& from, bool to_channels_first) {
  const int64_t n = from.dim(0), a = from.dim(1), b = from.dim(2), c = from.dim(3);
  Tensor to = Tensor::empty(to_channels_first ? Shape{n, c, a, b} : Shape{n, b, c, a});
  const float* in = from.f32();
  float* out = to.f32();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < a; ++y)
      for (int64_t x = 0; x < b; ++x)
        for (int64_t k = 0; k < c; ++k) {
          const int64_t source = ((i * a + y) * b + x) * c + k;
          // channels first: [i,k,y,x]; back to channels last: input [i,y=C,x=H,k=W] -> [i,x,k,y]
          const int64_t target = to_channels_first ? ((i * c + k) * a + y) * b + x : ((i * b + x) * c + k) * a + y;
          out[target] = in[source];
        }
  return to;
}

// The U-Net's output [N,C,H,W] on the file's inputs.
inline Tensor nchw_forward(model::UNet& unet, const SafetensorsReader& inputs) {
  const Tensor sample = move_channels(inputs.read_f32("sample"), false);
  const Tensor timestep = inputs.read_f32("timestep");
  Tensor labels;
  if (unet.spec().num_classes > 0) {
    const Tensor values = inputs.read_f32("class_labels");
    labels = Tensor::empty({values.numel()}, DType::I32);
    for (int64_t i = 0; i < values.numel(); ++i) labels.i32()[i] = static_cast<int32_t>(values.f32()[i]);
  }
  model::NoBackward no_backward;
  return move_channels(unet.forward(sample, timestep, labels, model::ForwardContext{}), true);
}

}  // namespace diffuse::testing
