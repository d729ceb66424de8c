// Small pieces every layer uses: buffers that are allocated on first use and
// again only when the batch shape changes, what a forward pass keeps for
// backward (and the scope in which it keeps nothing), and the switch for
// skipping an input gradient.
//
// Layers return their outputs and input gradients as new tensors and hold on
// only to what their own backward reads (their inputs, statistics): a
// gradient is freed once the next layer has consumed it, and a kept
// activation once the backward that reads it returns. The CPU allocator caches
// the blocks, so the fresh allocations of every step cost no page faults.
#pragma once

#include <cstdint>
#include <utility>

#include "core/error.h"
#include "core/tensor.h"
#include "model/parameters.h"

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

namespace detail {
inline thread_local bool keep_activations = true;
}  // namespace detail

// While alive, forward passes on this thread keep nothing for backward (like
// PyTorch's no_grad): every intermediate tensor is freed as soon as the next
// layer has read it. Sampling and other inference use it.
class NoBackward {
 public:
  NoBackward() : previous_(detail::keep_activations) { detail::keep_activations = false; }
  ~NoBackward() { detail::keep_activations = previous_; }
  NoBackward(const NoBackward&) = delete;
  NoBackward& operator=(const NoBackward&) = delete;

 private:
  bool previous_;
};

// Whether forward passes on this thread keep what backward reads (false inside a NoBackward scope).
inline bool keeping_activations() { return detail::keep_activations; }

// Stores `value` in a layer's activation slot for backward, or clears the
// slot inside a NoBackward scope.
inline void keep_for_backward(Tensor& slot, const Tensor& value) { slot = keeping_activations() ? value : Tensor(); }

// Backward's check that forward kept what it reads (`slot`, one of them).
inline void require_kept(const Tensor& slot, const char* layer) {
  DIFFUSE_CHECK(slot.defined(), layer,
                " backward needs a forward that kept its activations: run forward first (once per backward), outside "
                "model::NoBackward");
}

// Backward takes what forward kept out of its slot (checked like require_kept), so each activation is freed as
// soon as the backward that reads it returns, not at the next forward: during backward, the gradients take the
// place of the activations they consume. Like PyTorch's graph, one forward serves one backward.
inline Tensor take_kept(Tensor& slot, const char* layer) {
  require_kept(slot, layer);
  return std::move(slot);
}

// A new f32 tensor of `shape` on `device`, contents undefined.
inline Tensor new_f32(const Shape& shape, Device device) { return Tensor::empty(shape, DType::F32, device); }

// A new activation of `shape` in the dtype and on the device of `like` (the layer's input or incoming gradient):
// activations keep the type the model computes in from layer to layer. Contents undefined.
inline Tensor new_activation(const Shape& shape, const Tensor& like) {
  return Tensor::empty(shape, like.dtype(), like.device());
}

// Bytes of a tensor of `shape` in `dtype` (what the activation_bytes() estimates add up).
inline int64_t tensor_bytes(const Shape& shape, DType dtype) {
  return shape_numel(shape) * static_cast<int64_t>(dtype_size(dtype));
}
inline int64_t f32_bytes(const Shape& shape) { return tensor_bytes(shape, DType::F32); }

// The weight a matrix product reads for activations of `activations`' dtype: the fp32 master for f32 ones, the
// store's compute copy (ParameterStore::update_compute_copy) for bf16 or f16 ones.
inline const Tensor& product_weight(const Parameter& weight, DType activations) {
  if (activations == DType::F32) return weight.value;
  DIFFUSE_CHECK(
      weight.compute.defined() && weight.compute.dtype() == activations, "parameter '", weight.name, "' has no ",
      dtype_name(activations),
      " compute copy: it was not declared ComputeCopy::kRounded, or the model was built to compute in another "
      "dtype (ParameterStore::set_compute_dtype)");
  return weight.compute;
}

}  // namespace diffuse::model
