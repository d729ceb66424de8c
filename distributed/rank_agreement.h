// What the ranks of a job must agree on before training: the same resolved
// configuration, the same checkpoint to resume from, and what rank 0 alone
// decides (the run directory's checks).
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"
#include "distributed/communicator.h"

namespace diffuse {

// 64-bit FNV-1a hash of a text.
uint64_t text_hash(const std::string& text);

// Rank `root`'s text, on every rank.
std::string broadcast_string(Communicator& communicator, const std::string& text, int root);

// Throws on every rank when the ranks' `text` differ (compared by hash), naming
// `what` and the ranks that differ from rank 0.
void require_same_on_every_rank(Communicator& communicator, const std::string& text, const std::string& what);

// Rank 0 runs `decide` and every rank gets its text, or every rank throws its error (rather than the other
// ranks waiting in a later collective for one that failed). Collective.
template <typename Decide>
std::string decided_on_rank_zero(Communicator& communicator, Decide&& decide) {
  std::string text, failure;
  if (communicator.rank() == 0) {
    try {
      text = decide();
    } catch (const Error& error) {
      failure = error.what();
    }
  }
  if (communicator.size() > 1) {
    failure = broadcast_string(communicator, failure, 0);
    text = broadcast_string(communicator, text, 0);
  }
  if (!failure.empty()) throw Error(failure);
  return text;
}

}  // namespace diffuse
