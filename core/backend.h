// Backend: the interface each device implements (core/cpu, core/cuda). Its
// methods, one per op of core/backend_ops.h, mirror core/ops.h one to one;
// ops.cpp validates the arguments once for every backend and then calls the
// backend of the tensors' device, so an implementation may assume shapes,
// dtypes and devices are consistent.
#pragma once

#include "core/backend_ops.h"
#include "core/ops.h"

namespace diffuse {

using ops::AdamWStep;
using ops::Conv2dWindow;
using ops::Dropout;
using ops::DropoutKey;
using ops::LossScale;
using ops::Pool2dWindow;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

#define DIFFUSE_BACKEND_PURE_VIRTUAL(ret, name, params) virtual ret name params = 0;
  DIFFUSE_BACKEND_OPS(DIFFUSE_BACKEND_PURE_VIRTUAL)
#undef DIFFUSE_BACKEND_PURE_VIRTUAL
};

// Declares one op of DIFFUSE_BACKEND_OPS as an override, in a backend's class body:
//   DIFFUSE_BACKEND_OPS(DIFFUSE_BACKEND_OVERRIDE)
#define DIFFUSE_BACKEND_OVERRIDE(ret, name, params) ret name params override;

// The backend for a device; throws if this build or machine has none.
Backend& backend_for(Device device);

}  // namespace diffuse
