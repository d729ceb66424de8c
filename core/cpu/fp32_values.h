// Low-precision outputs that are built up over several steps (pooling maxima, scattered gradient sums) are
// computed in fp32 and rounded once: fp32_values gives the fp32 buffer, store_fp32_values rounds it into place.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/half.h"

namespace diffuse::cpu {

// Where `count` elements of T are computed in fp32: in place when T is float, else in this thread's scratch, which
// store_fp32_values then rounds into them. One buffer per thread: done with it before asking again.
template <typename T>
float* fp32_values(T* elements, int64_t count) {
  if constexpr (std::is_same_v<T, float>) {
    return elements;
  } else {
    thread_local std::vector<float> scratch;
    scratch.resize(static_cast<size_t>(count));
    return scratch.data();
  }
}

template <typename T>
void store_fp32_values(const float* values, T* elements, int64_t count) {
  if constexpr (!std::is_same_v<T, float>)
    for (int64_t i = 0; i < count; ++i) elements[i] = from_float<T>(values[i]);
}

}  // namespace diffuse::cpu
