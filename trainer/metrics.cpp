#include "trainer/metrics.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/error.h"
#include "io/json.h"

namespace diffuse {

MetricsLog::MetricsLog(const std::string& path) : path_(path) {
  if (path.empty()) return;
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
