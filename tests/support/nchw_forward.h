// Our U-Net run on the inputs of a diffusers UNet2DModel, as a safetensors file holds them: "sample" [N,C,H,W],
// "timestep" [N] and, for class-conditional models, "class_labels" [N] (float values). Shared by the diffusers
// tests (tests/run/test_diffusers.cpp, tests/cli/compare_with_diffusers.cpp), which compare with diffusers' output.
#pragma once

#include <cstdint>

#include "io/safetensors.h"
#include "model/layer_support.h"
#include "model/unet.h"
#include "run/diffusers_layout.h"

namespace diffuse::testing {

// The U-Net's output [N,C,H,W] on the file's inputs.
inline Tensor nchw_forward(model::UNet& unet, const SafetensorsReader& inputs) {
  const Tensor sample = channels_last(inputs.read_f32("sample"));
  const Tensor timestep = inputs.read_f32("timestep");
  Tensor labels;
  if (unet.spec().num_classes > 0) {
    const Tensor values = inputs.read_f32("class_labels");
    labels = Tensor::empty({values.numel()}, DType::I32);
    for (int64_t i = 0; i < values.numel(); ++i) labels.i32()[i] = static_cast<int32_t>(values.f32()[i]);
  }
  model::NoBackward no_backward;
  return channels_first(unet.forward(sample, timestep, labels, model::ForwardContext{}));
}

}  // namespace diffuse::testing
