#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io/json.h"

namespace diffuse {
namespace {

TEST(Json, LineKeepsKeyOrderAndWritesNonFiniteAsNull) {
  const Json line = {{"step", 2},
                     {"loss", round_to_significant_digits(0.012345678912, 9)},
                     {"grad", std::numeric_limits<double>::quiet_NaN()},
                     {"lr", std::numeric_limits<double>::infinity()},
                     {"name", "a \"quoted\"\n path"}};
  EXPECT_EQ(json_line(line),
            R"({"step": 2, "loss": 0.0123456789, "grad": null, "lr": null, "name": "a \"quoted\"\n path"})");
  EXPECT_TRUE(Json::parse(json_line(line))["grad"].is_null()) << "valid JSON";
}

TEST(Json, RoundingKeepsWhatIsWorthReading) {
  EXPECT_EQ(round_to_decimals(1.23456, 3), 1.235);
  EXPECT_EQ(round_to_significant_digits(123456.789, 4), 123500.0);
  EXPECT_TRUE(std::isnan(round_to_significant_digits(std::nan(""), 9)));
}

}  // namespace
}  // namespace diffuse
