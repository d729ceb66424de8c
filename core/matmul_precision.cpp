#include "core/matmul_precision.h"

#include <atomic>

#include "core/error.h"

namespace diffuse {

namespace {
std::atomic<DType> matmul_type{DType::F32};
}  // namespace

void set_matmul_dtype(DType dtype) {
  DIFFUSE_CHECK(dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16,
                "matrix products compute in f32, bf16 or f16, not ", dtype_name(dtype));
  matmul_type.store(dtype);
}

DType matmul_dtype() { return matmul_type.load(); }

DType product_dtype(DType activations) { return activations == DType::F32 ? matmul_dtype() : activations; }

}  // namespace diffuse
