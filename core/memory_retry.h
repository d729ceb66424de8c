// Retrying work that ran out of device memory once, after the memory pool has
// given its cached free blocks back. The pool keeps every freed block for
// reuse, so memory that no tensor holds can still be out of reach of callers
// that allocate outside it (cudnnFind's scratch) or that need one block larger
// than any cached one (a convolution workspace).
#pragma once

#include "core/error.h"

namespace diffuse {

// An allocation that failed for want of device memory (thrown by the device allocator, or made from a library's
// allocation status): the one failure that releasing cached memory and trying again can cure.
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

// Returns attempt(). When it throws OutOfMemoryError, calls trim() and attempt() once more; when that also runs
// out of memory, throws OutOfMemoryError naming what() (the op and shape), the last failure and what to lower.
// Other errors propagate at once, without a retry: trimming cannot cure them.
template <typename Attempt, typename Trim, typename What>
auto with_memory_retry(const Attempt& attempt, const Trim& trim, const What& what) {
  try {
    return attempt();
  } catch (const OutOfMemoryError&) {
  }
  trim();
  try {
    return attempt();
  } catch (const OutOfMemoryError& error) {
    throw OutOfMemoryError(
        concat(what(), ": out of device memory even after releasing the memory pool's cached blocks (", error.what(),
               "): lower the batch size (train.batch_size, or --batch), or raise train.accumulation"));
  }
}

}  // namespace diffuse
