// TEMPORARY during development: placeholders removed as each op lands.
#include "core/cpu/cpu_backend.h"

namespace diffuse::cpu {

void CpuBackend::timestep_embedding_forward(const Tensor&, const Tensor&) { throw Error("timestep_embedding_forward: not implemented yet"); }
void CpuBackend::timestep_embedding_backward(const Tensor&, const Tensor&, const Tensor&) { throw Error("timestep_embedding_backward: not implemented yet"); }
void CpuBackend::embedding_forward(const Tensor&, const Tensor&, const Tensor&) { throw Error("embedding_forward: not implemented yet"); }
void CpuBackend::embedding_backward(const Tensor&, const Tensor&, const Tensor&) { throw Error("embedding_backward: not implemented yet"); }
void CpuBackend::mse_loss_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&) { throw Error("mse_loss_forward: not implemented yet"); }
void CpuBackend::mse_loss_backward(const Tensor&, const Tensor&, const Tensor&, float, const Tensor&) { throw Error("mse_loss_backward: not implemented yet"); }
void CpuBackend::adamw_update(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const AdamWStep&) { throw Error("adamw_update: not implemented yet"); }
void CpuBackend::ema_update(const Tensor&, const Tensor&, float) { throw Error("ema_update: not implemented yet"); }
double CpuBackend::sum_of_squares(const Tensor&) { throw Error("sum_of_squares: not implemented yet"); }
void CpuBackend::cast(const Tensor&, const Tensor&) { throw Error("cast: not implemented yet"); }

}  // namespace diffuse::cpu
