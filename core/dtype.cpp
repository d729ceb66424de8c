#include "core/dtype.h"

#include "core/error.h"

namespace diffuse {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return 4;
    case DType::BF16:
      return 2;
    case DType::F16:
      return 2;
    case DType::I32:
      return 4;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "f32";
    case DType::BF16:
      return "bf16";
    case DType::F16:
      return "f16";
    case DType::I32:
      return "i32";
  }
  return "?";
}

const char* device_name(Device device) { return device == Device::CPU ? "cpu" : "cuda"; }

DType parse_dtype(const std::string& name) {
  if (name == "f32" || name == "fp32") return DType::F32;
  if (name == "bf16") return DType::BF16;
  if (name == "f16" || name == "fp16") return DType::F16;
  if (name == "i32") return DType::I32;
  DIFFUSE_CHECK(false, "unknown dtype '", name, "' (expected fp32, bf16, fp16 or i32)");
  return DType::F32;
}

}  // namespace diffuse
