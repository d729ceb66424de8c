#include "trainer/metrics.h"

#include <cmath>

#include "core/error.h"

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
  std::fprintf(file_, "{\"step\": %lld", static_cast<long long>(step));
  for (const auto& [name, value] : values) {
    if (std::isfinite(value)) {
      std::fprintf(file_, ", \"%s\": %.9g", name.c_str(), value);
    } else {
      std::fprintf(file_, ", \"%s\": null", name.c_str());  // JSON has no inf/NaN
    }
  }
  std::fputs("}\n", file_);
  std::fflush(file_);
}

}  // namespace diffuse
