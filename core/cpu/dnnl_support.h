// What the CPU backend's oneDNN primitives share: the engine, a stream per
// thread, and how our types map onto oneDNN's. Only core/cpu includes this.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "core/dtype.h"

namespace diffuse::cpu {

dnnl::engine& dnnl_engine();

// Per thread, so that ops called from different threads never share one.
dnnl::stream& dnnl_stream();

dnnl::memory::data_type dnnl_type(DType dtype);

// Whether oneDNN chose a real kernel for a primitive rather than its
// reference loops, which are orders of magnitude slower than our fallbacks.
bool is_optimized(const char* implementation);

}  // namespace diffuse::cpu
