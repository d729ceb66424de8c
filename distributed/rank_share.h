// Splitting N items (samples to generate, images to featurize) over ranks:
// rank r takes the contiguous global indices [r * per_rank, ...), and
// gather_rows puts every rank's rows back in global order, so results do not
// depend on the number of ranks.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "distributed/communicator.h"

namespace diffuse::eval {

struct RankShare {
  int64_t per_rank = 0;  // ceil(N / ranks): every rank's row count once padded
  int64_t begin = 0;     // this rank's first global index
  int64_t end = 0;       // one past its last (end - begin may be < per_rank, or 0, on the last ranks)
};

RankShare rank_share(int64_t count, int rank, int ranks);

// local [end - begin, ...] rows of every rank -> [count, ...] in global order, on every rank.
Tensor gather_rows(Communicator& communicator, const RankShare& share, const Tensor& local, int64_t count);

}  // namespace diffuse::eval
