#include "bench/profile_report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/op_profile.h"

namespace diffuse {

namespace {

struct FamilyTime {
  double forward = 0.0, backward = 0.0, other = 0.0;
  double total() const { return forward + backward + other; }
};

bool strip_suffix(std::string& name, const std::string& suffix) {
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  name.resize(name.size() - suffix.size());
  return true;
}

}  // namespace

void print_op_profile(int runs, double run_seconds, const char* unit) {
  std::map<std::string, FamilyTime> families;
  double in_ops = 0.0;
  for (const OpTime& time : op_profile()) {
    std::string family = time.op;
    const double per_step = time.seconds / runs;
    in_ops += per_step;
    if (strip_suffix(family, "_forward")) {
      families[family].forward += per_step;
    } else if (strip_suffix(family, "_backward")) {
      families[family].backward += per_step;
    } else {
      families[family].other += per_step;
    }
  }
  std::vector<std::pair<std::string, FamilyTime>> rows(families.begin(), families.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.total() > b.second.total(); });
  std::printf("  profile      ms per %-5s (mean of %2d)     forward   backward      other    share\n", unit, runs);
  for (const auto& [family, time] : rows)
    std::printf("    %-34s %9.2f  %9.2f  %9.2f  %6.1f%%\n", family.c_str(), time.forward * 1e3, time.backward * 1e3,
                time.other * 1e3, 100.0 * time.total() / (run_seconds > 0 ? run_seconds : 1.0));
  const double outside = std::max(0.0, run_seconds - in_ops);
  std::printf("    %-34s %9s  %9s  %9.2f  %6.1f%%\n", "(outside ops)", "", "", outside * 1e3,
              100.0 * outside / (run_seconds > 0 ? run_seconds : 1.0));
}

}  // namespace diffuse
