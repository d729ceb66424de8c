#include "cli/flag_checks.h"

#include <cmath>
#include <string>

namespace diffuse::cli {

CLI::Validator finite_number() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        double value = 0.0;
        if (!CLI::detail::lexical_cast(input, value)) return input + " is not a number";
        return std::isfinite(value) ? std::string() : input + " is not a finite number";
      },
      "FINITE");
}

CLI::Validator at_least(int64_t minimum) {
  return CLI::Validator(
      [minimum](std::string& input) -> std::string {
        int64_t value = 0;
        if (!CLI::detail::lexical_cast(input, value)) return input + " is not a whole number";
        return value >= minimum ? std::string() : input + " is less than " + std::to_string(minimum);
      },
      ">=" + std::to_string(minimum));
}

}  // namespace diffuse::cli
