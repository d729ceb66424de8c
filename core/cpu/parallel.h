// When a CPU loop is worth OpenMP threads: starting a parallel region costs a
// few microseconds, more than small ops take serially. Loops write
// `#pragma omp parallel for ... if (worth_threads(elements))`.
#pragma once

#include <cstdint>

namespace diffuse::cpu {

// Elements of simple per-element work below which threads cost more than they save.
constexpr int64_t kParallelElements = int64_t{1} << 15;

inline bool worth_threads(int64_t elements) { return elements >= kParallelElements; }

}  // namespace diffuse::cpu
