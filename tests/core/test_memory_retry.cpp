// with_memory_retry: an out-of-memory failure is retried once after trimming;
// a second one names the op and its shape; other failures are not retried.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/memory_retry.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

// An attempt that runs out of memory its first `failures` times, then returns its call count.
struct FailingAttempt {
  int failures;
  int* calls;
  int operator()() const {
    ++*calls;
    if (*calls <= failures) throw OutOfMemoryError("CUDA error: out of memory in `cudaMallocAsync`");
    return *calls;
  }
};

std::string conv_shape() { return "conv2d forward workspace, 128x32x32x256 -> 256 channels, kernel 3x3"; }

TEST(MemoryRetry, SucceedsAtOnceWithoutTrimming) {
  int calls = 0, trims = 0;
  EXPECT_EQ(with_memory_retry(
                FailingAttempt{0, &calls}, [&] { ++trims; }, conv_shape),
            1);
  EXPECT_EQ(trims, 0);
}

TEST(MemoryRetry, TrimsAndRetriesOnceAfterRunningOutOfMemory) {
  int calls = 0, trims = 0;
  EXPECT_EQ(with_memory_retry(
                FailingAttempt{1, &calls}, [&] { ++trims; }, conv_shape),
            2);
  EXPECT_EQ(trims, 1);
}

TEST(MemoryRetry, ASecondFailureNamesTheOpTheShapeAndTheTrim) {
  int calls = 0, trims = 0;
  const auto attempt = [&] {
    return with_memory_retry(
        FailingAttempt{2, &calls}, [&] { ++trims; }, conv_shape);
  };
  EXPECT_THROW(attempt(), OutOfMemoryError);
  calls = 0;
  const std::string message = testing::error_message(attempt);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(trims, 2);
  EXPECT_NE(message.find(conv_shape()), std::string::npos) << message;
  EXPECT_NE(message.find("out of device memory even after releasing the memory pool's cached blocks"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("cudaMallocAsync"), std::string::npos) << message;
  EXPECT_NE(message.find("lower the batch size"), std::string::npos) << message;
}

TEST(MemoryRetry, OtherErrorsAreNotRetried) {
  int calls = 0, trims = 0;
  const auto attempt = [&]() -> int {
    ++calls;
    throw Error("cuDNN error: CUDNN_STATUS_BAD_PARAM");
  };
  EXPECT_THROW(with_memory_retry(
                   attempt, [&] { ++trims; }, conv_shape),
               Error);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(trims, 0);
}

}  // namespace
}  // namespace diffuse
