// The shared checks on flag values: what they accept, and that they reject before anything runs.
#include <gtest/gtest.h>

#include <string>

#include "cli/flag_checks.h"

namespace diffuse::cli {
namespace {

// The validator's complaint about `value` ("" when it accepts it).
std::string complaint(CLI::Validator validator, std::string value) { return validator(value); }

TEST(FlagChecks, FiniteNumberRejectsNanAndInfinity) {
  for (const char* value : {"0", "1.5", "-2", "1e3"}) EXPECT_EQ(complaint(finite_number(), value), "") << value;
  for (const char* value : {"nan", "NaN", "inf", "-inf", "infinity"})
    EXPECT_EQ(complaint(finite_number(), value), std::string(value) + " is not a finite number") << value;
  EXPECT_EQ(complaint(finite_number(), "abc"), "abc is not a number");
}

TEST(FlagChecks, AtLeastRejectsSmallerNumbers) {
  for (const char* value : {"1", "2", "100000"}) EXPECT_EQ(complaint(at_least(1), value), "") << value;
  EXPECT_EQ(complaint(at_least(1), "0"), "0 is less than 1");
  EXPECT_EQ(complaint(at_least(1), "-3"), "-3 is less than 1");
  EXPECT_EQ(complaint(at_least(2), "1"), "1 is less than 2");
  EXPECT_EQ(complaint(at_least(1), "1.5"), "1.5 is not a whole number");
}

// On a command line: the error names the flag, and the option keeps its value.
TEST(FlagChecks, ParseErrorNamesTheFlag) {
  CLI::App app;
  double guidance = 0.0;
  app.add_option("--guidance", guidance)->check(finite_number());
  EXPECT_NO_THROW(app.parse(std::string("--guidance 2.5"), false));
  EXPECT_EQ(guidance, 2.5);
  try {
    app.parse(std::string("--guidance nan"), false);
    FAIL() << "--guidance nan was accepted";
  } catch (const CLI::ValidationError& error) {
    EXPECT_EQ(std::string(error.what()), "--guidance: nan is not a finite number");
  }
}

}  // namespace
}  // namespace diffuse::cli
