// metrics.jsonl lines: key order kept, counts as integers, other values to 9 significant digits,
// non-finite values as null, a second log on the same file appends, and a failed write is an error.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/op_testing.h"
#include "trainer/metrics.h"

namespace diffuse {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(MetricsLogTest, CountsStayIntegersAndLinesAppend) {
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / "metrics_log_test.jsonl";
  std::filesystem::remove(path);
  {
    MetricsLog log(path.string());
    log.write(4, {{"loss", 0.123456789012}, {"samples_seen", 48.0}, {"lr", 1e-3}});
  }
  {
    MetricsLog log(path.string());
    log.write(6, {{"loss", std::nan("")}, {"stage", 2.0}, {"grad_norm", -0.5}});
  }
  EXPECT_EQ(read_all(path.string()),
            "{\"step\": 4, \"loss\": 0.123456789, \"samples_seen\": 48, \"lr\": 0.001}\n"
            "{\"step\": 6, \"loss\": null, \"stage\": 2, \"grad_norm\": -0.5}\n");
  std::filesystem::remove(path);
}

TEST(MetricsLogTest, EmptyPathWritesNothing) {
  MetricsLog log("");
  log.write(1, {{"loss", 1.0}});  // ranks other than 0: no file, no error
}

TEST(MetricsLogTest, FailedWriteNamesTheFile) {
  MetricsLog log("/dev/full");  // every write fails with ENOSPC, as on a full disk
  const std::string message = testing::error_message([&] { log.write(1, {{"loss", 1.0}}); });
  EXPECT_NE(message.find("cannot write /dev/full: No space left on device"), std::string::npos) << message;
}

}  // namespace
}  // namespace diffuse
