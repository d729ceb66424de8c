// The word in which kernels report bad inputs (out-of-range labels) for the
// next synchronisation to throw, and the error it becomes. Plain C++: shared
// by the CUDA context (core/cuda/context.h) and the host emulation of the
// kernels (core/cuda/host_emulation.h).
#pragma once

#include <string>

#include "core/error.h"

namespace diffuse::cuda {

// What a kernel found wrong with its inputs; code 0 = nothing.
struct KernelFault {
  int code;
  int value;  // the offending value (a label)
  int index;  // where it was (the sample)
  int limit;  // the bound it broke (the number of classes)
};

enum KernelFaultCode : int {
  kFaultNone = 0,
  kFaultEmbeddingForwardLabel = 1,
  kFaultEmbeddingBackwardLabel = 2,
  kFaultCrossEntropyLabel = 3,
};

// Throws the Error that a recorded fault stands for; does nothing for kFaultNone.
inline void throw_kernel_fault(const KernelFault& fault) {
  if (fault.code == kFaultNone) return;
  const char* op = fault.code == kFaultEmbeddingForwardLabel    ? "embedding_forward"
                   : fault.code == kFaultEmbeddingBackwardLabel ? "embedding_backward"
                                                                : "cross_entropy";
  DIFFUSE_CHECK(false, op, ": label ", fault.value, " of sample ", fault.index, " is outside [0, K=", fault.limit,
                ") (found on the GPU; the op's output is not valid)");
}

}  // namespace diffuse::cuda
