#include "trainer/precision.h"

#include "core/error.h"
#include "core/log.h"

#if DIFFUSE_HAS_CUDA
#include "core/cuda/precision.h"
#endif

namespace diffuse {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "fp16") return Precision::kFp16;
  DIFFUSE_CHECK(false, "unknown precision '", name, "' (expected fp32, bf16 or fp16)");
  return Precision::kFp32;
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
  if (device == Device::CPU) {
    log_warning("train.precision ", precision, ": the CPU backend computes in fp32, so this run does");
    return policy;
  }
  policy.compute = policy.requested == Precision::kBf16 ? DType::BF16 : DType::F16;
  policy.loss_scaling = policy.requested == Precision::kFp16;
  return policy;
}

void apply_precision(const PrecisionPolicy& policy) {
#if DIFFUSE_HAS_CUDA
  cuda::set_matmul_dtype(policy.compute);
#else
  DIFFUSE_CHECK(policy.compute == DType::F32, "precision ", precision_name(policy.requested),
                " needs the CUDA backend, and this build has none");
#endif
}

}  // namespace diffuse
