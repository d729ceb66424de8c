// TEMPORARY during development: placeholders removed as each op lands.
#include "core/cpu/cpu_backend.h"

namespace diffuse::cpu {

void CpuBackend::conv2d_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, int, int) { throw Error("conv2d_forward: not implemented yet"); }
void CpuBackend::conv2d_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, int, int) { throw Error("conv2d_backward: not implemented yet"); }
void CpuBackend::linear_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&) { throw Error("linear_forward: not implemented yet"); }
void CpuBackend::linear_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) { throw Error("linear_backward: not implemented yet"); }
void CpuBackend::attention_forward(const Tensor&, const Tensor&, const Tensor&) { throw Error("attention_forward: not implemented yet"); }
void CpuBackend::attention_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&) { throw Error("attention_backward: not implemented yet"); }

}  // namespace diffuse::cpu
