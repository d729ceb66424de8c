#include "trainer/metrics.h"

#include <cmath>
#include <cstdint>

#include "core/error.h"
#include "io/json.h"

namespace diffuse {

MetricsLog::MetricsLog(const std::string& path) {
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
  std::fprintf(file_, "%s\n", json_line(line).c_str());
  std::fflush(file_);
}

}  // namespace diffuse
