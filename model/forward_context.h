// ForwardContext: what a forward pass needs besides its inputs. Dropout masks
// are keyed by (seed, step, global sample index, dropout site), so they are the
// same on any number of ranks and are regenerated, not stored, for backward.
#pragma once

#include <cstdint>

namespace diffuse::model {

struct ForwardContext {
  bool training = false;      // dropout active
  uint64_t seed = 0;          // run seed
  uint32_t step = 0;          // optimizer step
  uint32_t first_sample = 0;  // global index of the batch's sample 0
};

}  // namespace diffuse::model
