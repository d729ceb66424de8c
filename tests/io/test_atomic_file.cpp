#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/atomic_file.h"
#include "io/hdf5.h"
#include "tests/support/op_testing.h"
#include "tests/support/scratch_directory.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;
using testing::error_message;

class AtomicFileTest : public ::testing::Test {
 protected:
  std::string file(const std::string& name) const { return scratch_.file(name); }
  std::vector<std::string> listing() const { return scratch_.listing(); }
  static std::string read(const std::string& path) { return testing::read_text_file(path); }

  testing::ScratchDirectory scratch_{"atomic"};
};

TEST_F(AtomicFileTest, PublishReplacesTheOldFile) {
  const std::string path = file("report.json");
  write_file_atomically(path, std::string("old\n"));
  write_file_atomically(path, std::string("new\n"));
  EXPECT_EQ(read(path), "new\n");
  EXPECT_EQ(listing(), std::vector<std::string>{"report.json"}) << "no temporary left";
}

TEST_F(AtomicFileTest, UnpublishedWriteLeavesTheOldFileAndNoTemporary) {
  const std::string path = file("grid.png");
  write_file_atomically(path, std::string("old"));
  {
    AtomicFile pending(path);
    std::ofstream(pending.temporary_path()) << "half written";
    EXPECT_EQ(read(path), "old") << "nothing is visible before publish()";
  }
  EXPECT_EQ(read(path), "old");
  EXPECT_EQ(listing(), std::vector<std::string>{"grid.png"});
}

TEST_F(AtomicFileTest, FailedPublishLeavesTheOldFileNoTemporaryAndNamesThePath) {
  // A non-empty directory cannot be renamed over: the publish fails at the rename.
  const std::string path = file("target");
  fs::create_directories(path);
  std::ofstream(path + "/old") << "old";
  const std::string message = error_message([&] { write_file_atomically(path, std::string("new")); });
  EXPECT_NE(message.find("cannot write " + path + ":"), std::string::npos) << message;
  EXPECT_EQ(read(path + "/old"), "old");
  EXPECT_EQ(listing(), std::vector<std::string>{"target"}) << "no temporary left";
}

TEST_F(AtomicFileTest, UnwritableDirectoryIsAnErrorNamingThePath) {
  const std::string path = file("missing/report.json");
  const std::string message = error_message([&] { write_file_atomically(path, std::string("x")); });
  EXPECT_NE(message.find("cannot write " + path + ":"), std::string::npos) << message;
  EXPECT_TRUE(listing().empty());
}

TEST_F(AtomicFileTest, Hdf5FileIsPublishedByCommitOnly) {
  const std::string path = file("stats.h5");
  {
    Hdf5File written = Hdf5File::create(path);
    const std::vector<double> values = {1.0, 2.0, 3.0};
    written.write("/group/values", {3}, values.data());
    written.set_attribute("note", std::string("first"));
    EXPECT_FALSE(fs::exists(path)) << "written under the temporary name";
    written.commit();
  }
  {
    Hdf5File abandoned = Hdf5File::create(path);
    abandoned.set_attribute("note", std::string("second"));
  }
  EXPECT_EQ(listing(), std::vector<std::string>{"stats.h5"});
  const Hdf5File read_back = Hdf5File::open(path);
  EXPECT_EQ(read_back.string_attribute("note"), "first");
  EXPECT_EQ(read_back.read_doubles("/group/values"), (std::vector<double>{1.0, 2.0, 3.0}));
  EXPECT_EQ(read_back.names_in("/group"), std::vector<std::string>{"values"});
  const std::string message = error_message([&] { read_back.dataset_shape("/absent"); });
  EXPECT_NE(message.find("file " + path + ": dataset /absent is missing"), std::string::npos) << message;
}

}  // namespace
}  // namespace diffuse
