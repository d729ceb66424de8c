#include "core/tensor.h"

#include <cstring>

#include "core/allocator.h"
#include "core/half.h"

#if DIFFUSE_HAS_CUDA
#include "core/cuda/runtime.h"
#endif

namespace diffuse {

std::string shape_string(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ",";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

int64_t shape_numel(const Shape& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  return empty_from(allocator_for(device), shape, dtype, device);
}

Tensor Tensor::empty_from(Allocator& allocator, const Shape& shape, DType dtype, Device device) {
  for (int64_t extent : shape) DIFFUSE_CHECK(extent >= 0, "negative extent in tensor shape ", shape_string(shape));
  Tensor tensor;
  tensor.shape_ = shape;
  tensor.dtype_ = dtype;
  tensor.device_ = device;
  const size_t bytes = tensor.nbytes();
  void* data = allocator.allocate(bytes);
  tensor.storage_ = std::shared_ptr<void>(data, [&allocator, bytes](void* p) { allocator.deallocate(p, bytes); });
  tensor.data_ = data;
  return tensor;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor tensor = empty(shape, dtype, device);
  if (device == Device::CPU) {
    std::memset(tensor.data_, 0, tensor.nbytes());
  } else {
    Tensor host = zeros(shape, dtype, Device::CPU);
    copy(host, tensor);
  }
  return tensor;
}

Tensor Tensor::view(void* data, const Shape& shape, DType dtype, Device device) {
  DIFFUSE_CHECK(data != nullptr || shape_numel(shape) == 0, "Tensor::view of a null pointer");
  Tensor tensor;
  tensor.data_ = data;
  tensor.shape_ = shape;
  tensor.dtype_ = dtype;
  tensor.device_ = device;
  return tensor;
}

int64_t Tensor::dim(int axis) const {
  const int resolved = axis < 0 ? axis + rank() : axis;
  DIFFUSE_CHECK(resolved >= 0 && resolved < rank(), "axis ", axis, " out of range for tensor ", describe());
  return shape_[resolved];
}

float* Tensor::f32() const {
  DIFFUSE_CHECK(dtype_ == DType::F32 && device_ == Device::CPU, "expected an f32 CPU tensor, got ", describe());
  return static_cast<float*>(data_);
}

int32_t* Tensor::i32() const {
  DIFFUSE_CHECK(dtype_ == DType::I32 && device_ == Device::CPU, "expected an i32 CPU tensor, got ", describe());
  return static_cast<int32_t*>(data_);
}

Tensor Tensor::reshape(const Shape& shape) const {
  DIFFUSE_CHECK(shape_numel(shape) == numel(), "cannot reshape ", describe(), " to ", shape_string(shape));
  Tensor result = *this;
  result.shape_ = shape;
  return result;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  DIFFUSE_CHECK(rank() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "slice [", begin, ",", end,
                ") out of range for ", describe());
  Tensor result = *this;
  const int64_t row = numel() / (shape_[0] == 0 ? 1 : shape_[0]);
  result.data_ = static_cast<char*>(data_) + static_cast<size_t>(begin * row) * dtype_size(dtype_);
  result.shape_[0] = end - begin;
  return result;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  return concat(dtype_name(dtype_), shape_string(shape_), "@", device_name(device_));
}

void fill(Tensor& tensor, float value) {
  float* data = tensor.f32();
  for (int64_t i = 0; i < tensor.numel(); ++i) data[i] = value;
}

void copy(const Tensor& source, const Tensor& destination) {
  DIFFUSE_CHECK(source.shape() == destination.shape() && source.dtype() == destination.dtype(), "copy: source ",
                source.describe(), " and destination ", destination.describe(), " differ");
  const size_t bytes = source.nbytes();
  if (source.device() == Device::CPU && destination.device() == Device::CPU) {
    if (bytes) std::memcpy(destination.raw(), source.raw(), bytes);
    return;
  }
#if DIFFUSE_HAS_CUDA
  using cuda::CopyKind;
  const CopyKind kind = source.device() == Device::CPU        ? CopyKind::HostToDevice
                        : destination.device() == Device::CPU ? CopyKind::DeviceToHost
                                                              : CopyKind::DeviceToDevice;
  cuda::copy_bytes(destination.raw(), source.raw(), bytes, kind);
#else
  DIFFUSE_CHECK(false, "copy between devices needs a CUDA build");
#endif
}

std::vector<float> to_vector(const Tensor& tensor) {
  Tensor host = tensor;
  if (tensor.device() != Device::CPU) {
    host = Tensor::empty(tensor.shape(), tensor.dtype(), Device::CPU);
    copy(tensor, host);
  }
  std::vector<float> values(static_cast<size_t>(host.numel()));
  for (size_t i = 0; i < values.size(); ++i) {
    switch (host.dtype()) {
      case DType::F32:
        values[i] = static_cast<const float*>(host.raw())[i];
        break;
      case DType::BF16:
        values[i] = bf16_to_float(static_cast<const bf16*>(host.raw())[i]);
        break;
      case DType::F16:
        values[i] = f16_to_float(static_cast<const f16*>(host.raw())[i]);
        break;
      case DType::I32:
        values[i] = static_cast<float>(static_cast<const int32_t*>(host.raw())[i]);
        break;
    }
  }
  return values;
}

Tensor from_vector(const std::vector<float>& values, const Shape& shape) {
  DIFFUSE_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
                " values for shape ", shape_string(shape));
  Tensor tensor = Tensor::empty(shape);
  if (!values.empty()) std::memcpy(tensor.raw(), values.data(), values.size() * sizeof(float));
  return tensor;
}

}  // namespace diffuse
