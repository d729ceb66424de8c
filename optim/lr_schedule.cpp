#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace diffuse {

double LrSchedule::rate(int64_t step) const {
  double lr = peak;
  if (warmup_steps > 0) lr *= std::min(1.0, static_cast<double>(step) / static_cast<double>(warmup_steps));
  switch (decay) {
    case LrDecay::kConstant:
      return lr;
    case LrDecay::kLinear:
      return lr * std::max(0.0, static_cast<double>(total_steps - step + 1) / static_cast<double>(total_steps));
    case LrDecay::kCosine: {
      // Starts after warmup: update warmup_steps + 1 still gets the peak, and the last update a little above 0.
      const double progress = static_cast<double>(std::max<int64_t>(0, step - 1 - warmup_steps)) /
                              static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
      return lr * (0.5 * (1.0 + std::cos(M_PI * std::min(1.0, progress))));
    }
  }
  return lr;
}

}  // namespace diffuse
