#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include "io/run_directory_lock.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

// flock locks belong to an open file, so a second lock in the same process conflicts like another process's.
TEST(RunDirectoryLock, SecondHolderIsRefusedUntilTheFirstReleases) {
  const fs::path run = fs::temp_directory_path() / ("diffuse-lock-" + std::to_string(::getpid())) / "run";
  fs::remove_all(run.parent_path());
  std::optional<RunDirectoryLock> first(std::in_place, run.string());
  EXPECT_TRUE(fs::is_directory(run));
  const std::string message = testing::error_message([&] { RunDirectoryLock second(run.string()); });
  EXPECT_NE(message.find("run directory " + run.string() + " is in use by another diffuse process (pid " +
                         std::to_string(::getpid()) + ")"),
            std::string::npos)
      << message;
  first.reset();
  EXPECT_NO_THROW(RunDirectoryLock again(run.string()));
  fs::remove_all(run.parent_path());
}

}  // namespace
}  // namespace diffuse
