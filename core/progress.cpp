#include "core/progress.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace diffuse {

std::string format_duration(double seconds) {
  const long long total = static_cast<long long>(std::max(0.0, seconds));
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof(text), "%lldh%02lldm", total / 3600, (total % 3600) / 60);
  } else {
    std::snprintf(text, sizeof(text), "%lldm%02llds", total / 60, total % 60);
  }
  return text;
}

ProgressLine::ProgressLine(std::string what, int64_t total, bool print, double print_every_seconds)
    : what_(std::move(what)),
      total_(total),
      print_(print),
      print_every_seconds_(print_every_seconds),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

void ProgressLine::update(int64_t done) {
  if (!print_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && std::chrono::duration<double>(now - last_print_).count() < print_every_seconds_) return;
  last_print_ = now;
  std::printf("%s\n", line(done, std::chrono::duration<double>(now - start_).count()).c_str());
  std::fflush(stdout);
}

void ProgressLine::update_share(int64_t done, int64_t share) {
  update(done == share ? total_ : done * total_ / std::max<int64_t>(share, 1));
}

std::string ProgressLine::line(int64_t done, double elapsed_seconds) const {
  const double rate = done / std::max(elapsed_seconds, 1e-9);
  const std::string eta = done > 0 ? format_duration((total_ - done) / rate) : "unknown";
  char text[256];
  std::snprintf(text, sizeof(text), "%s %lld/%lld images  %.1f img/s  ETA %s", what_.c_str(),
                static_cast<long long>(done), static_cast<long long>(total_), rate, eta.c_str());
  return text;
}

}  // namespace diffuse
