#include <gtest/gtest.h>

#include <string>

#include "core/enum_names.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

enum class Fruit { kApple, kPear, kPlum };
constexpr EnumName<Fruit> kFruitNames[] = {{Fruit::kApple, "apple"}, {Fruit::kPear, "pear"}, {Fruit::kPlum, "plum"}};

TEST(EnumNames, EveryValueRoundTripsThroughItsName) {
  for (const EnumName<Fruit>& entry : kFruitNames) {
    EXPECT_EQ(value_named(kFruitNames, entry.name, "fruit"), entry.value);
    EXPECT_STREQ(name_of(kFruitNames, entry.value), entry.name);
  }
}

TEST(EnumNames, AnUnknownNameNamesTheSettingAndListsTheChoices) {
  EXPECT_EQ(testing::error_message([] { value_named(kFruitNames, "fig", "config key 'fruit' in a.yaml"); }),
            "config key 'fruit' in a.yaml: 'fig' is not one of apple, pear, plum");
}

TEST(EnumNames, ASubsetAcceptsOnlyItsValuesInTableOrder) {
  const auto stone_fruit = named_subset(kFruitNames, {Fruit::kPlum, Fruit::kApple});
  ASSERT_EQ(stone_fruit.size(), 2u);
  EXPECT_EQ(value_named(stone_fruit, "plum", "--fruit"), Fruit::kPlum);
  EXPECT_EQ(testing::error_message([&] { value_named(stone_fruit, "pear", "--fruit"); }),
            "--fruit: 'pear' is not one of apple, plum");
  EXPECT_THROW(name_of(stone_fruit, Fruit::kPear), Error);
}

}  // namespace
}  // namespace diffuse
