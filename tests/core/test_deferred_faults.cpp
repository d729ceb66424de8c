// Faults where nothing may throw: a free that fails inside a tensor's
// destructor is recorded, not thrown (which would end in std::terminate), and
// the next checked operation throws it with the op, the error and the rank.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/allocator.h"
#include "core/error.h"
#include "core/tensor.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

// Host memory whose free then fails the way a device free reports a broken GPU.
class FailingFreeAllocator final : public Allocator {
 public:
  explicit FailingFreeAllocator(const char* free_call) : free_call_(free_call) {}

 protected:
  void* raw_allocate(size_t bytes) override { return std::malloc(bytes == 0 ? 1 : bytes); }
  void raw_deallocate(void* pointer, size_t /*bytes*/) override {
    std::free(pointer);
    fail_call("CUDA", free_call_, "an illegal memory access was encountered", __FILE__, __LINE__);
  }

 private:
  const char* free_call_;
};

class RankGuard {
 public:
  explicit RankGuard(int rank) { set_process_rank(rank); }
  ~RankGuard() { set_process_rank(-1); }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(DeferredFaults, AFailingFreeInADestructorIsThrownByTheNextAllocation) {
  const RankGuard rank(3);
  FailingFreeAllocator allocator("cudaFreeAsync(pointer, device.stream())");
  { const Tensor doomed = Tensor::empty_from(allocator, {16}, DType::F32, Device::CPU); }
  EXPECT_EQ(allocator.bytes_in_use(), 0);

  const std::string message = testing::error_message([] { Tensor::empty({4}); });
  EXPECT_TRUE(contains(message, "[rank 3] CUDA error: an illegal memory access was encountered")) << message;
  EXPECT_TRUE(contains(message, "`cudaFreeAsync(pointer, device.stream())`")) << message;
  EXPECT_TRUE(contains(message, "while releasing a resource")) << message;
  // Reported once: the operations after it run again.
  EXPECT_NO_THROW(Tensor::empty({4}));
}

TEST(DeferredFaults, TheFirstFaultIsTheOneReported) {
  FailingFreeAllocator first("cudaFree(first)");
  FailingFreeAllocator second("cudaFree(second)");
  {
    const Tensor later = Tensor::empty_from(second, {4}, DType::F32, Device::CPU);
    const Tensor earlier = Tensor::empty_from(first, {4}, DType::F32, Device::CPU);
  }  // destroyed in reverse order: `earlier` is freed first
  const std::string message = testing::error_message([] { throw_deferred_fault(); });
  EXPECT_TRUE(contains(message, "cudaFree(first)")) << message;
  EXPECT_FALSE(contains(message, "cudaFree(second)")) << message;
}

TEST(DeferredFaults, NothingIsThrownWithoutAFault) { EXPECT_NO_THROW(throw_deferred_fault()); }

}  // namespace
}  // namespace diffuse
