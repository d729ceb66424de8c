// Thread count per rank from the configuration, the environment and the CPU affinity.
#include "run/thread_count.h"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "core/error.h"

namespace diffuse {

ThreadChoice cores_for_rank(int affinity_cpus, int machine_cpus, int ranks_on_node) {
  ranks_on_node = std::max(1, ranks_on_node);
  if (affinity_cpus > 0 && affinity_cpus < machine_cpus)
    return {affinity_cpus, concat("the ", affinity_cpus, " CPU(s) this rank is bound to")};
  const int cpus = std::max(1, std::max(affinity_cpus, machine_cpus));
  return {std::max(1, cpus / ranks_on_node), concat(cpus, " hardware threads / ", ranks_on_node,
                                                    ranks_on_node == 1 ? " rank" : " ranks", " on this node")};
}

ThreadChoice choose_thread_count(int configured, int ranks_on_node) {
  if (configured > 0) return {configured, "runtime.threads"};
  if (const char* environment = std::getenv("OMP_NUM_THREADS")) {
    const int threads = std::atoi(environment);
    if (threads > 0) return {threads, "OMP_NUM_THREADS"};
  }
  cpu_set_t mask;
  CPU_ZERO(&mask);
  const int affinity_cpus = sched_getaffinity(0, sizeof(mask), &mask) == 0 ? CPU_COUNT(&mask) : 0;
  const int machine_cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  return cores_for_rank(affinity_cpus, machine_cpus, ranks_on_node);
}

void use_threads(const ThreadChoice& choice) { omp_set_num_threads(choice.threads); }

}  // namespace diffuse
