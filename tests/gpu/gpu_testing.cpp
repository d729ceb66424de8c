#include "tests/gpu/gpu_testing.h"

#include <cmath>
#include <map>
#include <vector>

#include "core/cuda/library_types.h"

namespace diffuse::testing {

void reset_library_calls() { cuda::reset_recorded_calls(); }

void expect_library_calls_in(DType dtype, bool with_work, const std::string& what) {
  const std::map<cuda::CallTypes, int64_t> calls = cuda::recorded_calls();
  if (with_work) {
    EXPECT_FALSE(calls.empty()) << what << ": no cuDNN or cuBLAS call was recorded";
  }
  for (const auto& [types, count] : calls) {
    const cuda::CallTypes expected = types.call == cuda::LibraryCall::Gemm
                                         ? cuda::call_types(cuda::gemm_types(dtype))
                                         : cuda::call_types(types.call, cuda::conv_types(dtype));
    EXPECT_TRUE(types == expected) << what << ": " << count << " " << cuda::library_call_name(types.call)
                                   << " call(s) ran with data type " << types.data << " and compute type "
                                   << types.compute << ", not " << dtype_name(dtype) << "'s " << expected.data
                                   << " and " << expected.compute;
  }
}

}  // namespace diffuse::testing
