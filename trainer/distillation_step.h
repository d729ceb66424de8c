// One progressive-distillation micro-step (diffusion/distillation.h): draw
// i uniform in {1..N} and the noise per sample (keyed by global sample index,
// like training), noise the images at t = i/N, let the teacher take its two
// DDIM steps to the target x~, and regress the student's x-prediction on it
// with the weight w(SNR_t) of setup.weighting (snr_trunc or snr_plus_one); an
// EDM student is fed and read through its preconditioning.
// Gradients accumulate into the student's buffer; the teacher only runs forward.
#pragma once

#include <cstdint>

#include "model/unet.h"
#include "trainer/training_step.h"

namespace diffuse {

// Returns the per-sample losses (unscaled, on the device), like train_micro_batch.
Tensor distill_micro_batch(model::UNet& student, model::UNet& teacher, const DiffusionSetup& setup, int student_steps,
                           uint64_t seed, const MicroBatch& batch, const ops::LossScale& loss_scale);

}  // namespace diffuse
