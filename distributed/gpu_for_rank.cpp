#include "distributed/gpu_for_rank.h"

#include "core/error.h"

namespace diffuse {

int gpu_for_rank(int visible_gpus, int local_rank, int local_size) {
  DIFFUSE_CHECK(local_size >= 1 && local_rank >= 0 && local_rank < local_size, "local rank ", local_rank, " of ",
                local_size, " is not a place on a node");
  DIFFUSE_CHECK(visible_gpus >= 1, "local rank ", local_rank, " of ", local_size, " on this node sees no GPU");
  if (visible_gpus == 1) return 0;
  DIFFUSE_CHECK(visible_gpus >= local_size, local_size, " ranks run on this node and each sees ", visible_gpus,
                " GPUs, which is neither one GPU per rank nor one rank per GPU: give each rank its own GPU (srun "
                "--gpus-per-task=1) or let every rank see all of the node's GPUs and start at most one rank per GPU "
                "(mpirun -np <GPUs per node> per node, srun --ntasks-per-node=<GPUs>)");
  return local_rank;
}

}  // namespace diffuse
