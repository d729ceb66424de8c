// `diffuse bench train` on several ranks (mpirun -np N): the same synthetic
// training steps as train_bench.h with each rank computing its share of the
// global batch (--batch, default train.batch_size) and gradients reduced in
// buckets overlapped with backward, as in training. Reported on rank 0:
//  - the step time on N ranks, and on one rank with the same per-rank batch
//    (rank 0 alone while the others wait), whose ratio is the scaling efficiency;
//  - the all-reduce time of a step's gradients measured alone, the part of it
//    a step still waits for after backward, and so the share hidden behind backward.
// The last line is one JSON object. On one rank this is run_train_bench().
// Either way the run session (run/run_session.h) loads the config and sets up
// the communicator, the device and the threads first.
#pragma once

#include "bench/train_bench.h"

namespace diffuse {

void run_train_bench_on_every_rank(const TrainBenchOptions& options);

}  // namespace diffuse
