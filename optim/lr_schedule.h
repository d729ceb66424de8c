// Learning-rate schedules: a linear warmup to the peak rate, then the rate
// kept constant or decayed over the run. Updates are counted from 1, as
// ops::AdamWStep::step counts them.
#pragma once

#include <cstdint>

#include "core/enum_names.h"

namespace diffuse {

enum class LrDecay {
  kConstant,  // the peak rate until the end
  kLinear,    // update s of S gets (S - s + 1) / S of the rate: the last one 1 / S
  kCosine,    // half a cosine from the peak after warmup towards 0 at the end
};

inline constexpr EnumName<LrDecay> kLrDecayNames[] = {
    {LrDecay::kConstant, "constant"}, {LrDecay::kLinear, "linear"}, {LrDecay::kCosine, "cosine"}};

struct LrSchedule {
  double peak = 0.0;
  int64_t warmup_steps = 0;  // the rate grows linearly to the peak at this update (0: no warmup)
  LrDecay decay = LrDecay::kConstant;
  int64_t total_steps = 0;  // the run's last update, where linear and cosine decay end

  // The rate of update `step` (1-based).
  double rate(int64_t step) const;
};

}  // namespace diffuse
