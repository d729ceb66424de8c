// Names of enum values as configs and command lines spell them. Each enum
// keeps one table of {value, name} pairs next to its definition (a constexpr
// array, listed in the order errors name the choices); these lookups read any
// such list, so parsing, writing back and error messages share the spelling.
#pragma once

#include <initializer_list>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace diffuse {

template <typename Enum>
struct EnumName {
  Enum value;
  const char* name;
};

// The enum a list of EnumName entries (an array or a vector) names.
template <typename Names>
using NamedEnum = decltype(std::begin(std::declval<const Names&>())->value);

// The value called `name`; otherwise an Error "<setting>: '<name>' is not one
// of a, b, c", where `setting` says where the name came from (a config key and
// file, or a command-line flag).
template <typename Names>
NamedEnum<Names> value_named(const Names& names, const std::string& name, const std::string& setting) {
  std::string choices;
  for (const auto& entry : names) {
    if (name == entry.name) return entry.value;
    choices += (choices.empty() ? "" : ", ") + std::string(entry.name);
  }
  throw Error(concat(setting, ": '", name, "' is not one of ", choices));
}

// The name of `value`; an Error when the list does not cover it.
template <typename Names>
const char* name_of(const Names& names, NamedEnum<Names> value) {
  for (const auto& entry : names)
    if (entry.value == value) return entry.name;
  throw Error(concat("enum value ", static_cast<int>(value), " has no name in this list"));
}

// The entries of `names` for `values`, in table order: a setting that accepts only some of an enum's values.
template <typename Names>
std::vector<EnumName<NamedEnum<Names>>> named_subset(const Names& names,
                                                     std::initializer_list<NamedEnum<Names>> values) {
  std::vector<EnumName<NamedEnum<Names>>> subset;
  for (const auto& entry : names)
    for (const auto value : values)
      if (entry.value == value) subset.push_back(entry);
  return subset;
}

}  // namespace diffuse
