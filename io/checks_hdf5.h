// H5_CHECK: the check macro for HDF5 calls, which signal failure with a
// negative return value (herr_t or hid_t). The library's own error stack is
// silenced by silence_hdf5_errors() so that only our message is printed.
#pragma once

#include <hdf5.h>

#include "core/error.h"

namespace diffuse::checks {
// The most specific message on HDF5's error stack (e.g. "unable to open
// file: ... No such file or directory"), or "" when the stack is empty.
std::string hdf5_error_stack_text();

template <typename Status>
bool hdf5_ok(Status status) {
  return status >= 0;
}
template <typename Status>
std::string hdf5_describe(Status status) {
  const std::string stack = hdf5_error_stack_text();
  return stack.empty() ? concat("call returned ", static_cast<long long>(status)) : stack;
}
}  // namespace diffuse::checks

#define H5_CHECK(statement) \
  DIFFUSE_CHECK_CALL("HDF5", statement, ::diffuse::checks::hdf5_ok, ::diffuse::checks::hdf5_describe)

namespace diffuse {
// Turns off HDF5's automatic error-stack printing (once per process).
void silence_hdf5_errors();
}  // namespace diffuse
