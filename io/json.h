// JSON output through nlohmann-json. Documents are nlohmann::ordered_json, so
// keys come out in the order they were added. Non-finite numbers are written
// as null (JSON has no NaN or infinity).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace diffuse {

using Json = nlohmann::ordered_json;

// An object on one line with ": " and ", " separators, {"step": 2, "loss": 0.0123}: the form of
// metrics.jsonl and of the last line of `diffuse bench`, which tests and scripts/gpu_check.sh read.
std::string json_line(const Json& object);

// Writes `document` indented by 2 spaces, with a final newline, atomically (io/atomic_file.h).
void write_json_file(const std::string& path, const Json& document);

// `value` rounded to `digits` significant digits, or to `decimals` decimals, so that the JSON holds
// what is worth reading rather than every bit of a double.
double round_to_significant_digits(double value, int digits);
double round_to_decimals(double value, int decimals);

}  // namespace diffuse
