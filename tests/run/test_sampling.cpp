// The classes `diffuse sample` draws: all in blocks, or the one --class names, which must be the model's.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "run/sampling.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

std::vector<int32_t> classes_of(const Tensor& labels) { return {labels.i32(), labels.i32() + labels.numel()}; }

TEST(CommandSampleLabels, AllClassesInBlocksWithoutClass) {
  EXPECT_EQ(classes_of(command_sample_labels(3, 6, std::nullopt)), (std::vector<int32_t>{0, 0, 1, 1, 2, 2}));
  EXPECT_FALSE(command_sample_labels(0, 6, std::nullopt).defined());  // unconditional
}

TEST(CommandSampleLabels, OnlyTheGivenClass) {
  EXPECT_EQ(classes_of(command_sample_labels(10, 3, 0)), (std::vector<int32_t>{0, 0, 0}));
  EXPECT_EQ(classes_of(command_sample_labels(10, 3, 9)), (std::vector<int32_t>{9, 9, 9}));
}

TEST(CommandSampleLabels, ClassOutsideTheModelIsNamed) {
  for (const int label : {-1, 10, 1000}) {
    const std::string message = testing::error_message([&] { command_sample_labels(10, 4, label); });
    EXPECT_EQ(
        message.rfind("--class " + std::to_string(label) + " is not a class of the model: its classes are 0 to 9", 0),
        0u)
        << message;
  }
  const std::string message = testing::error_message([] { command_sample_labels(0, 4, 0); });
  EXPECT_EQ(message.rfind("--class 0: the model is not class-conditional", 0), 0u) << message;
}

}  // namespace
}  // namespace diffuse
