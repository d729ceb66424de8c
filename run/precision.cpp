#include "run/precision.h"

#include "core/error.h"
#include "core/log.h"
#include "core/matmul_precision.h"

namespace diffuse {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "fp16") return Precision::kFp16;
  DIFFUSE_CHECK(false, "unknown precision '", name, "' (expected fp32, bf16 or fp16)");
  return Precision::kFp32;
}

DType parse_reduce_dtype(const std::string& name) {
  DIFFUSE_CHECK(name == "fp32" || name == "bf16", "unknown train.reduce_dtype '", name, "' (expected fp32 or bf16)");
  return name == "bf16" ? DType::BF16 : DType::F32;
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::kBf16:
      return "bf16";
    case Precision::kFp16:
      return "fp16";
    default:
      return "fp32";
  }
}

PrecisionPolicy precision_policy(const std::string& precision, Device device) {
  PrecisionPolicy policy;
  policy.requested = parse_precision(precision);
  if (policy.requested == Precision::kFp32) return policy;
  const DType wanted = policy.requested == Precision::kBf16 ? DType::BF16 : DType::F16;
  if (device == Device::CPU && !cpu_multiplies_natively(wanted)) {
    log_warning("train.precision ", precision, ": this CPU has no fast ", precision,
                " products (bf16 needs AVX512-BF16 or AMX; fp16 is GPU only), so this run computes in fp32");
    return policy;
  }
  policy.compute = wanted;
  policy.loss_scaling = policy.requested == Precision::kFp16;
  return policy;
}

void apply_precision(const PrecisionPolicy& policy) { set_matmul_dtype(policy.compute); }

}  // namespace diffuse
