// What the ranks of a job must agree on before training: the same resolved
// configuration, the same checkpoint to resume from.
#pragma once

#include <cstdint>
#include <string>

#include "distributed/communicator.h"

namespace diffuse {

// 64-bit FNV-1a hash of a text.
uint64_t text_hash(const std::string& text);

// Rank `root`'s text, on every rank.
std::string broadcast_string(Communicator& communicator, const std::string& text, int root);

// Throws on every rank when the ranks' `text` differ (compared by hash), naming
// `what` and the ranks that differ from rank 0.
void require_same_on_every_rank(Communicator& communicator, const std::string& text, const std::string& what);

}  // namespace diffuse
