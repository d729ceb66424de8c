// ShardLayout: how ZeRO-1 splits a flat buffer over ranks. Rank r owns the
// contiguous range [begin(r), end(r)); sizes differ by at most one element.
// Shards ignore parameter boundaries: AdamW works element by element.
#pragma once

#include <cstdint>
#include <vector>

namespace diffuse {

struct ShardLayout {
  int64_t numel = 0;
  int ranks = 1;

  int64_t begin(int rank) const { return numel * rank / ranks; }
  int64_t end(int rank) const { return begin(rank + 1); }
  int64_t count(int rank) const { return end(rank) - begin(rank); }
  std::vector<int64_t> counts() const {
    std::vector<int64_t> result;
    for (int rank = 0; rank < ranks; ++rank) result.push_back(count(rank));
    return result;
  }
};

}  // namespace diffuse
