// CPU element type conversion between f32, bf16 and f16, rounding to nearest
// even with the conversions in core/half.h (the same the CUDA backend uses).
#include <cstring>

#include "core/cpu/cpu_backend.h"
#include "core/half.h"

namespace diffuse::cpu {

namespace {

// Every bf16 and f16 value is exact in f32, so bf16 <-> f16 through f32 rounds once.
template <typename In, typename Out>
void convert(const Tensor& source, const Tensor& destination) {
  const int64_t count = source.numel();
  const In* in = static_cast<const In*>(source.raw());
  Out* out = static_cast<Out*>(destination.raw());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) out[i] = from_float<Out>(to_float(in[i]));
}

template <typename In>
void convert_from(const Tensor& source, const Tensor& destination) {
  switch (destination.dtype()) {
    case DType::BF16:
      return convert<In, bf16>(source, destination);
    case DType::F16:
      return convert<In, f16>(source, destination);
    default:
      return convert<In, float>(source, destination);
  }
}

}  // namespace

void CpuBackend::cast(const Tensor& source, const Tensor& destination) {
  if (source.dtype() == destination.dtype()) {
    // memmove: casting a buffer onto itself is a harmless no-op.
    if (source.nbytes()) std::memmove(destination.raw(), source.raw(), source.nbytes());
    return;
  }
  switch (source.dtype()) {
    case DType::BF16:
      return convert_from<bf16>(source, destination);
    case DType::F16:
      return convert_from<f16>(source, destination);
    default:
      return convert_from<float>(source, destination);
  }
}

}  // namespace diffuse::cpu
