// Code templated on an activation's storage type (float, bf16 or f16, core/half.h) is written once and picked
// at run time from the tensor's dtype: with_storage_type(dtype, [&](auto tag) { using T = decltype(tag); ... }).
// The CPU loops and the CUDA launchers both dispatch here; ops.cpp has rejected every other dtype.
#pragma once

#include "core/dtype.h"
#include "core/half.h"
#include "core/tensor.h"

namespace diffuse {

template <typename Body>
decltype(auto) with_storage_type(DType dtype, Body&& body) {
  switch (dtype) {
    case DType::BF16:
      return body(bf16{});
    case DType::F16:
      return body(f16{});
    default:
      return body(float{});
  }
}

// A tensor's elements as its storage type T, without the dtype check of Tensor::f32 (the dispatch made it).
template <typename T>
T* storage_data(const Tensor& tensor) {
  return static_cast<T*>(tensor.raw());
}

}  // namespace diffuse
