// How many CPU threads each rank computes with (OpenMP, and through it
// oneDNN's GEMMs and convolutions). In order of precedence: runtime.threads when
// set; OMP_NUM_THREADS when the environment sets it; otherwise the cores given
// to this rank, so that `mpirun -np 2` on two cores does not oversubscribe.
#pragma once

#include <string>

namespace diffuse {

struct ThreadChoice {
  int threads = 1;
  std::string reason;  // for the log: "runtime.threads", "4 hardware threads / 2 ranks on this node", ...
};

// The cores of one rank: all CPUs of its affinity mask when the launcher bound it
// to part of the machine (the launcher sized that part for the rank), otherwise
// the machine's CPUs shared by the ranks on this node; at least 1.
ThreadChoice cores_for_rank(int affinity_cpus, int machine_cpus, int ranks_on_node);

// The choice for this process; `configured` is runtime.threads (0 = automatic).
ThreadChoice choose_thread_count(int configured, int ranks_on_node);

// Sets the OpenMP thread count.
void use_threads(const ThreadChoice& choice);

}  // namespace diffuse
