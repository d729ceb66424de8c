// `eval --images --n`: how many of the file's images are evaluated.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "eval/run_eval.h"
#include "tests/support/op_testing.h"

namespace diffuse::eval {
namespace {

TEST(ImagesToEvaluate, AllWithoutN) { EXPECT_EQ(images_to_evaluate(std::nullopt, 24, "samples.h5"), 24); }

TEST(ImagesToEvaluate, TheFirstNWithN) {
  EXPECT_EQ(images_to_evaluate(12, 24, "samples.h5"), 12);
  EXPECT_EQ(images_to_evaluate(24, 24, "samples.h5"), 24);
}

TEST(ImagesToEvaluate, MoreThanTheFileHoldsNamesBothNumbers) {
  const std::string message = testing::error_message([] { images_to_evaluate(100, 24, "samples.h5"); });
  EXPECT_EQ(message.rfind("--n 100 but --images samples.h5 has only 24 images", 0), 0u) << message;
}

}  // namespace
}  // namespace diffuse::eval
