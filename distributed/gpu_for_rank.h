// Which GPU a rank computes on. Clusters hand GPUs to ranks in one of two
// ways, and the count of GPUs a rank sees tells them apart:
//  - one GPU per rank (srun --gpus-per-task=1, or CUDA_VISIBLE_DEVICES set per
//    rank): each rank sees exactly one device and uses device 0;
//  - every rank sees all of the node's GPUs (mpirun, srun --gpus-per-node):
//    local rank r uses device r, so there must be at least as many GPUs as
//    ranks on the node (spare GPUs stay idle).
// Anything in between (4 ranks on a node, each seeing 2 GPUs) is neither and
// an error: taking local_rank modulo the count would put two ranks on one GPU,
// which NCCL refuses and which would halve each rank's memory. A single
// visible GPU is always "one per rank": ranks that really share one GPU are
// reported by NCCL ("Duplicate GPU detected") when the communicator starts.
// The local rank and size are the rank's place among the ranks on its node
// (Communicator::local_rank/local_size: MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)).
#pragma once

namespace diffuse {

// The device index, among the `visible_gpus` this rank sees, for local rank `local_rank` of `local_size`; throws an
// Error naming the numbers when the rule above has no answer.
int gpu_for_rank(int visible_gpus, int local_rank, int local_size);

}  // namespace diffuse
