#include "bench/profile_report.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "core/op_profile.h"

namespace diffuse {

void print_op_profile(int runs, double run_seconds, const char* unit) {
  const std::vector<OpTime> times = op_profile();
  double in_ops = 0.0;
  for (const OpTime& time : times) in_ops += time.seconds / runs;
  std::printf("  profile      ms per %-5s (mean of %2d)     forward   backward      other    share\n", unit, runs);
  for (const FamilyTime& time : family_times(times))
    std::printf("    %-34s %9.2f  %9.2f  %9.2f  %6.1f%%\n", time.family.c_str(), time.forward / runs * 1e3,
                time.backward / runs * 1e3, time.other / runs * 1e3,
                100.0 * time.total() / runs / (run_seconds > 0 ? run_seconds : 1.0));
  const double outside = std::max(0.0, run_seconds - in_ops);
  std::printf("    %-34s %9s  %9s  %9.2f  %6.1f%%\n", "(outside ops)", "", "", outside * 1e3,
              100.0 * outside / (run_seconds > 0 ? run_seconds : 1.0));
}

}  // namespace diffuse
