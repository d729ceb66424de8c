// Error messages: DIFFUSE_CHECK and DIFFUSE_CHECK_CALL name the parts, the
// statement, the rank, the file and the line; log lines carry the rank.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "core/error.h"
#include "core/log.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

// Sets the process rank for one test and restores "unknown" afterwards.
class RankGuard {
 public:
  explicit RankGuard(int rank) { set_process_rank(rank); }
  ~RankGuard() { set_process_rank(-1); }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Check, MessageHasPartsFileAndLine) {
  int line = 0;
  const std::string message = testing::error_message([&] {
    line = __LINE__ + 1;
    DIFFUSE_CHECK(1 + 1 == 3, "width ", 42, " is not a multiple of ", 8.5, " for layer '", "conv1", "'");
  });
  EXPECT_TRUE(contains(message, "width 42 is not a multiple of 8.5 for layer 'conv1'")) << message;
  EXPECT_TRUE(contains(message, "test_errors.cpp:" + std::to_string(line))) << message;
  EXPECT_FALSE(contains(message, "/test_errors.cpp")) << "the file is named without its directory: " << message;
  EXPECT_FALSE(contains(message, "[rank")) << "no rank before it is known: " << message;
}

TEST(Check, PassingCheckDoesNotThrowOrBuildTheMessage) {
  int evaluated = 0, formatted = 0;
  auto part = [&] {
    ++formatted;
    return "x";
  };
  EXPECT_NO_THROW(DIFFUSE_CHECK(++evaluated == 1, part()));
  EXPECT_EQ(evaluated, 1);
  EXPECT_EQ(formatted, 0);
}

TEST(Check, ErrorIsARuntimeError) {
  EXPECT_THROW(DIFFUSE_CHECK(false, "boom"), std::runtime_error);
  EXPECT_THROW(DIFFUSE_CHECK(false, "boom"), Error);
}

TEST(Check, MessageStartsWithTheRank) {
  const RankGuard guard(3);
  EXPECT_EQ(process_rank(), 3);
  const std::string message = testing::error_message([] { DIFFUSE_CHECK(false, "shard ", 7, " is missing"); });
  EXPECT_EQ(message.rfind("[rank 3] ", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "shard 7 is missing")) << message;
}

// A stand-in for a C library: status 0 is success, the rest are error codes.
int g_fake_calls = 0;
int fake_library_call(int status) {
  ++g_fake_calls;
  return status;
}
bool fake_ok(int status) { return status == 0; }
std::string fake_describe(int status) { return "FAKE_STATUS_" + std::to_string(status); }

TEST(CheckCall, NamesLibraryStatementStatusFileAndLine) {
  g_fake_calls = 0;
  EXPECT_NO_THROW(DIFFUSE_CHECK_CALL("fakelib", fake_library_call(0), fake_ok, fake_describe));
  EXPECT_EQ(g_fake_calls, 1) << "the statement runs exactly once";

  const RankGuard guard(2);
  int line = 0;
  const std::string message = testing::error_message([&] {
    line = __LINE__ + 1;
    DIFFUSE_CHECK_CALL("fakelib", fake_library_call(7), fake_ok, fake_describe);
  });
  EXPECT_EQ(g_fake_calls, 2) << "the failing statement also runs exactly once";
  EXPECT_EQ(message.rfind("[rank 2] ", 0), 0u) << message;
  EXPECT_TRUE(contains(message, "fakelib")) << message;
  EXPECT_TRUE(contains(message, "fake_library_call(7)")) << message;
  EXPECT_TRUE(contains(message, "FAKE_STATUS_7")) << message;
  EXPECT_TRUE(contains(message, "test_errors.cpp:" + std::to_string(line))) << message;
}

TEST(Log, PrefixIncludesRankAndLevel) {
  EXPECT_EQ(log_prefix(LogLevel::Info), "");
  EXPECT_EQ(log_prefix(LogLevel::Warning), "warning: ");
  const RankGuard guard(1);
  EXPECT_EQ(log_prefix(LogLevel::Info), "[rank 1] ");
  EXPECT_EQ(log_prefix(LogLevel::Warning), "[rank 1] warning: ");
  EXPECT_EQ(log_prefix(LogLevel::Error), "[rank 1] error: ");
}

TEST(Log, WritesOneLineToStderrAboveTheLevel) {
  const RankGuard guard(5);
  ::testing::internal::CaptureStderr();
  log_warning("disk ", 90, "% full");
  set_log_level(LogLevel::Error);
  log_warning("hidden");
  set_log_level(LogLevel::Info);
  log_debug("hidden too");
  const std::string output = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(output, "[rank 5] warning: disk 90% full\n");
}

}  // namespace
}  // namespace diffuse
