// TEMPORARY during development: placeholders removed as each op lands.
#include "core/cpu/cpu_backend.h"

namespace diffuse::cpu {

void CpuBackend::group_norm_forward(const Tensor&, const Tensor&, const Tensor&, int, float, const Tensor&, const Tensor&, const Tensor&) { throw Error("group_norm_forward: not implemented yet"); }
void CpuBackend::group_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, int, const Tensor&, const Tensor&, const Tensor&, const Tensor&) { throw Error("group_norm_backward: not implemented yet"); }
void CpuBackend::silu_forward(const Tensor&, const Tensor&) { throw Error("silu_forward: not implemented yet"); }
void CpuBackend::silu_backward(const Tensor&, const Tensor&, const Tensor&) { throw Error("silu_backward: not implemented yet"); }
void CpuBackend::upsample_nearest2x_forward(const Tensor&, const Tensor&) { throw Error("upsample_nearest2x_forward: not implemented yet"); }
void CpuBackend::upsample_nearest2x_backward(const Tensor&, const Tensor&) { throw Error("upsample_nearest2x_backward: not implemented yet"); }
void CpuBackend::concat_channels(const Tensor&, const Tensor&, const Tensor&) { throw Error("concat_channels: not implemented yet"); }
void CpuBackend::split_channels(const Tensor&, const Tensor&, const Tensor&) { throw Error("split_channels: not implemented yet"); }
void CpuBackend::add_channel_vector_forward(const Tensor&, const Tensor&, const Tensor&) { throw Error("add_channel_vector_forward: not implemented yet"); }
void CpuBackend::add_channel_vector_backward(const Tensor&, const Tensor&, const Tensor&) { throw Error("add_channel_vector_backward: not implemented yet"); }
void CpuBackend::add(const Tensor&, const Tensor&, const Tensor&) { throw Error("add: not implemented yet"); }
void CpuBackend::accumulate(const Tensor&, const Tensor&) { throw Error("accumulate: not implemented yet"); }
void CpuBackend::scale(const Tensor&, float, const Tensor&) { throw Error("scale: not implemented yet"); }
void CpuBackend::dropout_forward(const Tensor&, float, const DropoutKey&, const Tensor&) { throw Error("dropout_forward: not implemented yet"); }
void CpuBackend::dropout_backward(const Tensor&, float, const DropoutKey&, const Tensor&) { throw Error("dropout_backward: not implemented yet"); }
void CpuBackend::fill_normal(const Tensor&, uint64_t, uint32_t, uint32_t, uint32_t) { throw Error("fill_normal: not implemented yet"); }
void CpuBackend::fill_uniform(const Tensor&, uint64_t, uint32_t, uint32_t, uint32_t) { throw Error("fill_uniform: not implemented yet"); }

}  // namespace diffuse::cpu
