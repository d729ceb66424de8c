#include "core/cpu/dnnl_support.h"

#include <cstring>

#include "core/error.h"
#include "core/matmul_precision.h"

namespace diffuse::cpu {

dnnl::engine& dnnl_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& dnnl_stream() {
  thread_local dnnl::stream stream(dnnl_engine());
  return stream;
}

dnnl::memory::data_type dnnl_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return dnnl::memory::data_type::f32;
    case DType::BF16:
      return dnnl::memory::data_type::bf16;
    default:
      DIFFUSE_CHECK(false, "CPU products are f32 or bf16, not ", dtype_name(dtype));
  }
  return dnnl::memory::data_type::undef;
}

bool is_optimized(const char* implementation) { return std::strncmp(implementation, "ref", 3) != 0; }

}  // namespace diffuse::cpu

namespace diffuse {

bool cpu_multiplies_natively(DType dtype) {
  if (dtype == DType::F32) return true;
  if (dtype != DType::BF16) return false;
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();  // oneDNN's bf16 kernels need one of these
  return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

}  // namespace diffuse
