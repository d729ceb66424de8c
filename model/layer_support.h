// Small pieces every layer uses: owned activation buffers that are allocated
// on first use and again only when the batch shape changes (so steady-state
// training allocates nothing), and the switch for skipping an input gradient.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace diffuse::model {

// Whether backward computes the gradient of the layer's input (the first layer
// of a model does not need it).
enum class InputGradient { kCompute, kSkip };

// Makes `buffer` an f32 tensor of `shape` on `device`; keeps the current
// memory (and its contents) when the shape and device already match.
inline const Tensor& ensure_buffer(Tensor& buffer, const Shape& shape, Device device) {
  if (!buffer.defined() || buffer.shape() != shape || buffer.device() != device)
    buffer = Tensor::empty(shape, DType::F32, device);
  return buffer;
}

// Bytes of an f32 tensor of `shape` (what the activation_bytes() estimates add up).
inline int64_t f32_bytes(const Shape& shape) { return shape_numel(shape) * 4; }

}  // namespace diffuse::model
