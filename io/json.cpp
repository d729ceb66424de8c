#include "io/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "io/atomic_file.h"

namespace diffuse {

namespace {

// Strings that are not valid UTF-8 (a path in another encoding) get U+FFFD instead of failing the write.
std::string dump(const Json& value, int indent) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

std::string json_line(const Json& object) {
  std::string line = "{";
  for (auto item = object.begin(); item != object.end(); ++item) {
    if (item != object.begin()) line += ", ";
    line += dump(Json(item.key()), -1) + ": " + dump(item.value(), -1);
  }
  return line + "}";
}

void write_json_file(const std::string& path, const Json& document) {
  write_file_atomically(path, dump(document, 2) + "\n");
}

double round_to_significant_digits(double value, int digits) {
  char text[40];
  std::snprintf(text, sizeof(text), "%.*g", digits, value);
  return std::strtod(text, nullptr);
}

double round_to_decimals(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

}  // namespace diffuse
