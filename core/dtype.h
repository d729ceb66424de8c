// Element types and devices a Tensor can hold. Compute on the CPU backend is
// fp32; bf16/fp16 are storage types for mixed precision (see core/half.h).
#pragma once

#include <cstddef>
#include <string>

namespace diffuse {

enum class DType { F32, BF16, F16, I32 };
enum class Device { CPU, CUDA };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);         // "f32", "bf16", "f16", "i32"
const char* device_name(Device device);      // "cpu", "cuda"
DType parse_dtype(const std::string& name);  // accepts the names above and "fp32"/"fp16"

}  // namespace diffuse
