// The network output every sampler steps with: the denoiser's, or with
// classifier-free guidance (Ho & Salimans 2022) the combination
// (1 + w) o_c - w o_u of the conditional and unconditional outputs.
#pragma once

#include "core/tensor.h"
#include "diffusion/sampler.h"

namespace diffuse {

// A per-sample scalar [count] on `device`.
Tensor per_sample_constant(int64_t count, double value, Device device);

// out = the network output for z at `time` (per-sample [N]), guided when options.guidance is set and there are
// labels; `scratch` is overwritten.
void guided_output(const Denoiser& denoiser, const Tensor& z, const Tensor& time, const Tensor& labels,
                   const SamplerOptions& options, const Tensor& out, const Tensor& scratch);

}  // namespace diffuse
