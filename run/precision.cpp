#include "run/precision.h"

#include "core/error.h"
#include "core/log.h"
#include "core/matmul_precision.h"

namespace diffuse {

void require_precision_available(Precision precision, Device device, const std::string& origin) {
  // fp16 without a GPU would silently be an fp32 run of a config tuned for a loss scaler: refuse it.
  if (device == Device::CPU && precision == Precision::kFp16)
    throw Error(concat("train.precision fp16 in ", origin,
                       " needs a GPU: the CPU backend has no fp16 products (use bf16 or fp32 on a CPU)"));
}

PrecisionPolicy precision_policy(Precision precision, Device device) {
  PrecisionPolicy policy;
  policy.requested = precision;
  if (policy.requested == Precision::kFp32) return policy;
  const DType wanted = policy.requested == Precision::kBf16 ? DType::BF16 : DType::F16;
  require_precision_available(precision, device, "the config");
  if (device == Device::CPU && !cpu_multiplies_natively(wanted)) {
    log_warning(
        "train.precision bf16: this CPU has no bf16 products (they need AVX512-BF16 or AMX), so this run "
        "computes in fp32");
    return policy;
  }
  policy.compute = wanted;
  policy.loss_scaling = policy.requested == Precision::kFp16;
  return policy;
}

void apply_precision(const PrecisionPolicy& policy) { set_matmul_dtype(policy.compute); }

}  // namespace diffuse
