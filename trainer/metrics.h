// metrics.jsonl: one JSON object per logged step, appended (a resumed run
// continues the same file). Only rank 0 writes.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace diffuse {

class MetricsLog {
 public:
  explicit MetricsLog(const std::string& path);  // "" = disabled (ranks other than 0)
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
