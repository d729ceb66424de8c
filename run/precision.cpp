#include "run/precision.h"

#include "core/log.h"
#include "core/matmul_precision.h"

namespace diffuse {

PrecisionPolicy precision_policy(Precision precision, Device device) {
  PrecisionPolicy policy;
  policy.requested = precision;
  if (policy.requested == Precision::kFp32) return policy;
  const DType wanted = policy.requested == Precision::kBf16 ? DType::BF16 : DType::F16;
  if (device == Device::CPU && !cpu_multiplies_natively(wanted)) {
    log_warning("train.precision ", precision_name(precision), ": this CPU has no fast ", precision_name(precision),
                " products (bf16 needs AVX512-BF16 or AMX; fp16 is GPU only), so this run computes in fp32");
    return policy;
  }
  policy.compute = wanted;
  policy.loss_scaling = policy.requested == Precision::kFp16;
  return policy;
}

void apply_precision(const PrecisionPolicy& policy) { set_matmul_dtype(policy.compute); }

}  // namespace diffuse
