// Rank shares and the padded all-gather that reassembles them.
#include "distributed/rank_share.h"

#include <algorithm>
#include <cstring>

namespace diffuse::eval {

RankShare rank_share(int64_t count, int rank, int ranks) {
  RankShare share;
  share.per_rank = (count + ranks - 1) / ranks;
  share.begin = std::min(count, rank * share.per_rank);
  share.end = std::min(count, share.begin + share.per_rank);
  return share;
}

Tensor gather_rows(Communicator& communicator, const RankShare& share, const Tensor& local, int64_t count) {
  Shape row_shape = local.shape();
  DIFFUSE_CHECK(!row_shape.empty() && row_shape[0] == share.end - share.begin, "gather_rows: ", local.describe(),
                " does not hold this rank's ", share.end - share.begin, " rows");
  // all_gather wants equal parts: pad this rank's rows to per_rank with zeros.
  row_shape[0] = share.per_rank;
  Tensor padded = Tensor::zeros(row_shape, local.dtype());
  if (local.numel() > 0) std::memcpy(padded.raw(), local.raw(), local.nbytes());
  row_shape[0] = share.per_rank * communicator.size();
  Tensor gathered = Tensor::empty(row_shape, local.dtype());
  communicator.all_gather(padded, gathered);
  return gathered.slice(0, count);
}

}  // namespace diffuse::eval
