// Moving host-built tensors (per-sample scalars, labels) to where an op's other arguments live.
#pragma once

#include "core/tensor.h"

namespace diffuse {

// `tensor` itself when it is already on `device`, else a copy there.
inline Tensor on_device(const Tensor& tensor, Device device) {
  if (tensor.device() == device) return tensor;
  Tensor moved = Tensor::empty(tensor.shape(), tensor.dtype(), device);
  copy(tensor, moved);
  return moved;
}

}  // namespace diffuse
