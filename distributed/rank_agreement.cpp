// Rank agreement: hashes gathered from every rank, strings broadcast as int32 words.
#include "distributed/rank_agreement.h"

#include <cstring>
#include <vector>

#include "core/error.h"

namespace diffuse {

uint64_t text_hash(const std::string& text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char byte : text) {
    hash ^= byte;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string broadcast_string(Communicator& communicator, const std::string& text, int root) {
  Tensor length = Tensor::empty({1}, DType::I32);
  length.i32()[0] = static_cast<int32_t>(text.size());
  communicator.broadcast(length, root);
  const size_t bytes = static_cast<size_t>(length.i32()[0]);
  Tensor words = Tensor::zeros({static_cast<int64_t>((bytes + 3) / 4)}, DType::I32);
  if (communicator.rank() == root) std::memcpy(words.raw(), text.data(), bytes);
  communicator.broadcast(words, root);
  return std::string(static_cast<const char*>(words.raw()), bytes);
}

void require_same_on_every_rank(Communicator& communicator, const std::string& text, const std::string& what) {
  const uint64_t hash = text_hash(text);
  Tensor mine = Tensor::empty({2}, DType::I32);
  std::memcpy(mine.raw(), &hash, sizeof(hash));
  Tensor all = Tensor::empty({2 * static_cast<int64_t>(communicator.size())}, DType::I32);
  communicator.all_gather(mine, all);
  const auto* hashes = static_cast<const uint64_t*>(all.raw());
  std::string differing;
  for (int rank = 1; rank < communicator.size(); ++rank)
    if (hashes[rank] != hashes[0]) differing += concat(differing.empty() ? "" : ", ", rank);
  DIFFUSE_CHECK(differing.empty(), "the ranks were started with different ", what, ": rank(s) ", differing,
                " differ from rank 0 (start every rank with the same config file and --set overrides)");
}

}  // namespace diffuse
