// Checks on flag values shared by the subcommands, run by CLI11 while it
// parses, so that a bad value fails before any work with one line naming the
// flag: "error: --guidance: nan is not a finite number".
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace diffuse::cli {

// For every floating-point flag: a finite number. nan and inf parse as doubles, but no flag means anything by them.
CLI::Validator finite_number();

// For integer flags such as --steps and --n: a whole number >= minimum.
CLI::Validator at_least(int64_t minimum);

// For flags that name an enum value: one of the names of a core/enum_names.h table.
template <typename Names>
CLI::Validator one_of_names(const Names& names) {
  std::vector<std::string> spelled;
  for (const auto& entry : names) spelled.push_back(entry.name);
  return CLI::IsMember(spelled);
}

}  // namespace diffuse::cli
