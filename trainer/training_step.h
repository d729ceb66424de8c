// One diffusion training micro-step on a batch: draw noise levels, noise and
// class dropout (keyed by global sample index, so any split of the global
// batch over ranks and micro-steps draws the same values), noise the images,
// run the U-Net forward, the weighted MSE, and backward into the gradient
// buffer (accumulating). A VP model's level comes from a uniform draw through
// its schedule; an EDM model's from a normal draw n of the same stream, as
// s = exp(p_mean + p_std n) (diffusion/formulation.h).
#pragma once

#include <cstdint>
#include <vector>

#include "core/ops.h"
#include "core/philox.h"
#include "core/tensor.h"
#include "diffusion/diffusion_setup.h"
#include "model/unet.h"

namespace diffuse {

struct MicroBatch {
  Tensor images;  // [n,H,W,C] in [-1, 1]
  Tensor labels;  // [n] i32 on the host (class dropout is drawn there), undefined for unlabelled data
  uint32_t step = 0;
  uint32_t first_sample = 0;  // global index of images[0] in the step's batch order
};

// Per-sample scalars as an [n] tensor on `device`.
Tensor per_sample(const std::vector<float>& values, Device device);

// The class labels the model sees for a micro-batch, on the images' device:
// the dataset's, each replaced by the null label (num_classes) with
// probability class_dropout, keyed by global sample index; undefined for
// unconditional models.
Tensor conditioning_labels(const DiffusionSetup& setup, uint64_t seed, const MicroBatch& batch);

// The training noise level of one sample, drawn from `stream` (see the header comment).
NoiseLevel training_level(const DiffusionSetup& setup, const RandomStream& stream);

// The model's output for z regressed on `target` with per-sample `weights`:
// forward, weighted MSE, and backward of loss_scale * the summed losses into
// the gradient buffer. Returns the per-sample losses (unscaled, [n] f32 on
// z's device): left there, so that a step never waits for the GPU to read
// them; the trainer reads its running sum only when it logs.
Tensor regress_output(model::UNet& unet, const Tensor& z, const Tensor& time, const Tensor& labels,
                      const model::ForwardContext& context, const Tensor& target, const Tensor& weights,
                      const ops::LossScale& loss_scale);

// Runs forward and backward; gradients of (loss_scale * sum of per-sample
// losses) accumulate into the model's gradient buffer. Returns this
// micro-batch's per-sample losses, as regress_output.
Tensor train_micro_batch(model::UNet& unet, const DiffusionSetup& setup, uint64_t seed, const MicroBatch& batch,
                         const ops::LossScale& loss_scale);

}  // namespace diffuse
