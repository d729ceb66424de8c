// metrics.jsonl: one JSON object per logged step, appended (a resumed run
// continues the same file). Only rank 0 writes. A run continuing from step s
// first drops the lines after s (and any line a killed process left half
// written): it is about to log those steps again, so each step appears once.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace diffuse {

class MetricsLog {
 public:
  // "" = disabled (ranks other than 0). `continues_from_step`: the step training starts from.
  MetricsLog(const std::string& path, int64_t continues_from_step);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // Writes {"step": step, name: value, ...} and flushes; a failed write is an error naming the file.
  void write(int64_t step, const std::vector<std::pair<std::string, double>>& values);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace diffuse
