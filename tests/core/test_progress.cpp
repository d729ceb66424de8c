// Progress lines: the duration format and the line's numbers.
#include <gtest/gtest.h>

#include "core/progress.h"

namespace diffuse {
namespace {

TEST(Progress, FormatDuration) {
  EXPECT_EQ(format_duration(0), "0m00s");
  EXPECT_EQ(format_duration(65.7), "1m05s");
  EXPECT_EQ(format_duration(3599), "59m59s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_duration(-5), "0m00s");
}

TEST(Progress, LineHasCountRateAndEta) {
  const ProgressLine progress("sampling", 100, false);
  EXPECT_EQ(progress.line(50, 5.0), "sampling 50/100 images  10.0 img/s  ETA 0m05s");
  EXPECT_EQ(progress.line(100, 20.0), "sampling 100/100 images  5.0 img/s  ETA 0m00s");
  EXPECT_EQ(progress.line(0, 1.0), "sampling 0/100 images  0.0 img/s  ETA unknown");
}

}  // namespace
}  // namespace diffuse
