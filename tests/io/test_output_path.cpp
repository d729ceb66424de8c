// check_output_path: outputs that could not be written are refused before any work.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "io/output_path.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

std::string scratch() {
  const std::string directory = (std::filesystem::temp_directory_path() / "diffuse-test-output-path").string();
  std::filesystem::create_directories(directory);
  return directory;
}

TEST(OutputPath, AcceptsAFileInAnExistingDirectory) {
  EXPECT_NO_THROW(check_output_path(scratch() + "/grid.png", "--out", {".png", ".h5"}));
  EXPECT_NO_THROW(check_output_path(scratch() + "/samples.h5", "--out", {".png", ".h5"}));
  EXPECT_NO_THROW(check_output_path("report.json", "--out", {".json"}));  // the working directory
  EXPECT_NO_THROW(check_output_path(scratch() + "/any.name", "--out", {}));
}

TEST(OutputPath, RefusesAnotherExtension) {
  const std::string message = testing::error_message([] {
    check_output_path(scratch() + "/grid.jpg", "--out", {".png", ".h5"});
  });
  EXPECT_EQ(message.rfind("--out " + scratch() + "/grid.jpg: the file must end in .png or .h5", 0), 0u) << message;
}

TEST(OutputPath, RefusesAMissingDirectory) {
  const std::string message =
      testing::error_message([] { check_output_path(scratch() + "/missing/report.json", "--out", {".json"}); });
  EXPECT_NE(
      message.find("--out " + scratch() + "/missing/report.json: directory " + scratch() + "/missing does not exist"),
      std::string::npos)
      << message;
}

TEST(OutputPath, RefusesAFileAsTheDirectory) {
  const std::string file = scratch() + "/plain-file";
  std::ofstream(file) << "x";
  const std::string message =
      testing::error_message([&] { check_output_path(file + "/samples.h5", "--save-samples", {".h5"}); });
  EXPECT_NE(message.find("--save-samples " + file + "/samples.h5: directory " + file + " is not a directory"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace diffuse
