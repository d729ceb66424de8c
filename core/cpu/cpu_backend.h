// CpuBackend: the reference implementation of every op, and a fast one.
// Convolutions run on oneDNN's kernels, linear layers and attention on its
// GEMM; the rest are OpenMP loops over NHWC memory. Methods are
// defined one op family per file in this folder.
#pragma once

#include "core/backend.h"

namespace diffuse::cpu {

class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }

  DIFFUSE_BACKEND_OPS(DIFFUSE_BACKEND_OVERRIDE)
};

}  // namespace diffuse::cpu
