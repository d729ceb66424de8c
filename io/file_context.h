// Errors about one file name it first: "dataset /data/train.h5: /labels has
// 10 entries but /images has 12". Code that works on one file runs its body
// through with_file_context() so that every check inside, including the HDF5
// ones whose statement text only says `path.c_str()`, names the file.
#pragma once

#include <string>
#include <utility>

#include "core/error.h"

namespace diffuse {

// The same error with "<what> <path>: " in front (after any "[rank r] " prefix); an error that already
// starts so (a nested with_file_context for the same file) is returned unchanged.
Error error_with_file_context(const Error& error, const std::string& what, const std::string& path);

template <typename Body>
auto with_file_context(const std::string& what, const std::string& path, Body&& body) -> decltype(body()) {
  try {
    return std::forward<Body>(body)();
  } catch (const Error& error) {
    throw error_with_file_context(error, what, path);
  }
}

}  // namespace diffuse
