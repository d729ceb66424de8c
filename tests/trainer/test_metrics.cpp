// metrics.jsonl lines: key order kept, counts as integers, other values to 9 significant digits,
// non-finite values as null, a second log on the same file appends, one that continues from an
// earlier step first drops the lines after it, and a failed write is an error.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/op_testing.h"
#include "tests/support/scratch_directory.h"
#include "trainer/metrics.h"

namespace diffuse {
namespace {

using testing::read_text_file;

TEST(MetricsLogTest, CountsStayIntegersAndLinesAppend) {
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / "metrics_log_test.jsonl";
  std::filesystem::remove(path);
  {
    MetricsLog log(path.string(), 0);
    log.write(4, {{"loss", 0.123456789012}, {"samples_seen", 48.0}, {"lr", 1e-3}});
  }
  {
    MetricsLog log(path.string(), 4);
    log.write(6, {{"loss", std::nan("")}, {"stage", 2.0}, {"grad_norm", -0.5}});
  }
  EXPECT_EQ(read_text_file(path.string()),
            "{\"step\": 4, \"loss\": 0.123456789, \"samples_seen\": 48, \"lr\": 0.001}\n"
            "{\"step\": 6, \"loss\": null, \"stage\": 2, \"grad_norm\": -0.5}\n");
  std::filesystem::remove(path);
}

// A process killed after logging step 3 but before its checkpoint, resumed from step 2's checkpoint, logs step 3
// again: the old line 3 goes, and so does a line the kill cut short.
TEST(MetricsLogTest, ContinuingFromAnEarlierStepDropsTheLinesAfterIt) {
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / "metrics_log_resume.jsonl";
  {
    std::ofstream out(path);
    out << "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": 0.4}\n{\"step\": 2, \"fid\": 9}\n"
        << "{\"step\": 3, \"loss\": 0.3}\n{\"step\": 4, \"lo";
  }
  {
    MetricsLog log(path.string(), 2);
    log.write(3, {{"loss", 0.25}});
  }
  EXPECT_EQ(read_text_file(path.string()),
            "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": 0.4}\n{\"step\": 2, \"fid\": 9}\n"
            "{\"step\": 3, \"loss\": 0.25}\n");
  std::filesystem::remove(path);
}

TEST(MetricsLogTest, EmptyPathWritesNothing) {
  MetricsLog log("", 0);
  log.write(1, {{"loss", 1.0}});  // ranks other than 0: no file, no error
}

TEST(MetricsLogTest, FailedWriteNamesTheFile) {
  MetricsLog log("/dev/full", 0);  // every write fails with ENOSPC, as on a full disk
  const std::string message = testing::error_message([&] { log.write(1, {{"loss", 1.0}}); });
  EXPECT_NE(message.find("cannot write /dev/full: No space left on device"), std::string::npos) << message;
}

}  // namespace
}  // namespace diffuse
