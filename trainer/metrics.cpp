#include "trainer/metrics.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/log.h"
#include "io/atomic_file.h"
#include "io/json.h"

namespace diffuse {

namespace {

// Rewrites the log without the lines after `step` and those that do not parse; untouched when nothing goes.
void drop_lines_after(const std::string& path, int64_t step) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return;  // a new log (or a device, in tests)
  std::ifstream file(path);
  std::string kept, line;
  int64_t dropped = 0;
  while (std::getline(file, line)) {
    const Json record = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    const bool keep = record.is_object() && record.contains("step") && record["step"].is_number_integer() &&
                      record["step"].get<int64_t>() <= step;
    if (keep)
      kept += line + "\n";
    else
      ++dropped;
  }
  if (dropped == 0) return;
  write_file_atomically(path, kept);
  log_info("dropped ", dropped, " line(s) after step ", step, " from ", path, ": the run logs those steps again");
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path, int64_t continues_from_step) : path_(path) {
  if (path.empty()) return;
  drop_lines_after(path, continues_from_step);
  file_ = std::fopen(path.c_str(), "a");
  DIFFUSE_CHECK(file_ != nullptr, "cannot open ", path, " for appending");
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  if (!file_) return;
  Json line = {{"step", step}};
  for (const auto& [name, value] : values) {
    // Counts (samples_seen, stage, sampling_steps) stay integers, as readers of the log expect.
    const bool whole = std::isfinite(value) && value == std::trunc(value) && std::fabs(value) < 9.0e15;
    if (whole)
      line[name] = static_cast<int64_t>(value);
    else
      line[name] = round_to_significant_digits(value, 9);
  }
  // A line that does not reach the disk (a full disk) ends the run rather than leaving a gap in the log.
  const bool written = std::fprintf(file_, "%s\n", json_line(line).c_str()) >= 0 && std::fflush(file_) == 0;
  DIFFUSE_CHECK(written, "cannot write ", path_, ": ", std::strerror(errno));
}

}  // namespace diffuse
