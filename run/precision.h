// Mixed precision: what train.precision means, decided in one place.
//
//   fp32  every op computes in fp32.
//   bf16  the U-Net trains in bf16 (model/unet.h): the maps between layers and
//         their gradients are bf16, every op reads and writes them natively
//         (fp32 arithmetic inside, statistics and sums in fp32), and the
//         matrix products (convolutions, linear layers, attention) multiply
//         bf16 operands with fp32 accumulation: tensor cores on a GPU,
//         oneDNN's bf16 kernels on a CPU with AVX512-BF16 or AMX. They read a
//         bf16 copy of the weights that the trainer rounds once per step
//         (model::ParameterStore::update_compute_copy). The few products whose
//         inputs stay fp32 (the time embedding's, and every forward outside
//         training: sampling, teachers) round their operands per call
//         (core/matmul_precision.h).
//   fp16  the same in fp16 (GPU only: an error on the CPU), whose narrow range needs a dynamic loss
//         scaler (optim/loss_scaler.h) so small gradients do not flush to zero.
//
// In every mode the master weights, gradients, AdamW moments, EMA copies and
// reductions are fp32 in the flat buffers; the time embedding, the loss and
// the per-sample scalars are fp32. Separately, train.reduce_dtype bf16 sends
// the gradients between ranks as bf16 (distributed/gradient_reducer.h).
#pragma once

#include <string>

#include "core/dtype.h"
#include "core/enum_names.h"

namespace diffuse {

enum class Precision { kFp32, kBf16, kFp16 };
inline constexpr EnumName<Precision> kPrecisionNames[] = {
    {Precision::kFp32, "fp32"}, {Precision::kBf16, "bf16"}, {Precision::kFp16, "fp16"}};

inline const char* precision_name(Precision precision) { return name_of(kPrecisionNames, precision); }

// train.reduce_dtype's choices: the types gradients may travel in between ranks.
inline constexpr EnumName<DType> kReduceDTypeNames[] = {{DType::F32, "fp32"}, {DType::BF16, "bf16"}};

struct PrecisionPolicy {
  Precision requested = Precision::kFp32;  // train.precision
  DType compute = DType::F32;              // what the U-Net trains in on this device
  bool loss_scaling = false;               // fp16 compute: a DynamicLossScaler guards each step
};

// The policy for train.precision on `device`. bf16 on a CPU without bf16
// instructions computes in fp32, with a warning: a bf16 GPU config still
// trains on a laptop. fp16 on a CPU is an Error naming the setting: there are
// no fp16 products there, and its loss scaler would guard an fp32 run.
PrecisionPolicy precision_policy(Precision precision, Device device);
// The Error precision_policy throws, alone, naming the config it came from (`origin`): commands check it before they
// write anything.
void require_precision_available(Precision precision, Device device, const std::string& origin);

// Makes the backends' products with fp32 inputs multiply in the policy's type (core/matmul_precision.h).
// Process-wide: call once before the first step (every device the process uses follows it); the U-Net is
// built with policy.compute as its compute dtype.
void apply_precision(const PrecisionPolicy& policy);

}  // namespace diffuse
