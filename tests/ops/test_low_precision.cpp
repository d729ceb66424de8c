// bf16 and f16 activations on the CPU backend (core/ops.h's dtype contract): every op of the shared table
// (tests/support/low_precision_cases.h) runs on low-precision activations and, as the reference, on the same
// values widened to f32. The low-precision path widens on load, computes as the fp32 path does and rounds once
// on store, and its sums (group norm's statistics and gradients, dv, dscale_shift) read the same widened values
// in the same order in fp32 or double, so the check is exact, reductions included: each activation it writes is
// the fp32 result rounded to nearest even, and each f32 output equals the fp32 path's.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "core/backend.h"
#include "core/ops.h"
#include "tests/support/low_precision_cases.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

using testing::LowPrecisionCase;

class LowPrecisionOps : public ::testing::TestWithParam<std::tuple<LowPrecisionCase, DType>> {};

TEST_P(LowPrecisionOps, WriteTheRoundedFp32Result) {
  const auto& [op, dtype] = GetParam();
  const std::vector<Tensor> low = testing::make_case_arguments(op, dtype);
  std::vector<Tensor> reference;
  // The same values in f32: activations widened (exactly), the f32 arguments copied.
  for (const Tensor& tensor : low) reference.push_back(testing::cast_to(tensor, DType::F32));
  Backend& cpu = backend_for(Device::CPU);
  op.call(cpu, reference);
  op.call(cpu, low);
  for (size_t i = 0; i < low.size(); ++i) {
    const std::string what = op.name + " argument " + std::to_string(i);
    ASSERT_EQ(low[i].dtype(), op.args[i].activation ? dtype : DType::F32) << what;
    testing::expect_close(low[i], testing::cast_to(reference[i], low[i].dtype()), 0.0, 0.0, what);
  }
}

INSTANTIATE_TEST_SUITE_P(SharedTable, LowPrecisionOps,
                         ::testing::Combine(::testing::ValuesIn(testing::low_precision_cases()),
                                            ::testing::Values(DType::BF16, DType::F16)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" + dtype_name(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace diffuse
