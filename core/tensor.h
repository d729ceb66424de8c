// Tensor: a shape, an element type, a device and a pointer. Owning tensors
// share their storage (copies are views of the same memory); views wrap
// memory owned by someone else, such as a slice of the flat parameter buffer.
// Activations are NHWC: shape {N, H, W, C}.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace diffuse {

class Allocator;

using Shape = std::vector<int64_t>;

std::string shape_string(const Shape& shape);  // "[2,8,8,32]"
int64_t shape_numel(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: the "absent" optional input or output

  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  // Like empty, with memory from `allocator` (which must outlive the storage) rather than the device's own: what
  // empty does, and how tests make a free fail inside a tensor's destructor.
  static Tensor empty_from(Allocator& allocator, const Shape& shape, DType dtype, Device device);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  // A non-owning view of memory that must outlive it.
  static Tensor view(void* data, const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);

  bool defined() const { return data_ != nullptr || (storage_ && numel() == 0); }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const;  // negative axes count from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }

  void* raw() const { return data_; }
  // Typed access; throws if the dtype differs or the tensor is not on the CPU.
  float* f32() const;
  int32_t* i32() const;

  // Same memory, another shape with the same number of elements.
  Tensor reshape(const Shape& shape) const;
  // Elements [begin, end) of the first axis, sharing memory.
  Tensor slice(int64_t begin, int64_t end) const;

  std::string describe() const;  // "f32[2,8,8,32]@cpu"

 private:
  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
};

// Host-side helpers for tests, tools and data loading (CPU tensors only).
void fill(Tensor& tensor, float value);
void copy(const Tensor& source, const Tensor& destination);  // same shape and dtype; any devices
std::vector<float> to_vector(const Tensor& tensor);          // fp32 copy, converting bf16/fp16
Tensor from_vector(const std::vector<float>& values, const Shape& shape);

}  // namespace diffuse
