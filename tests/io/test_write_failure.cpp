// Writing on a full disk: a file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored) makes writes past it fail
// with EFBIG, as a full disk makes them fail with ENOSPC. The write is an error naming the file and the
// system's reason; no temporary is left, the old file stays, and HDF5 keeps working in the process.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/atomic_file.h"
#include "io/event_file_writer.h"
#include "io/hdf5.h"
#include "tests/support/file_size_limit.h"
#include "tests/support/op_testing.h"
#include "tests/support/scratch_directory.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;
using testing::error_message;
using testing::FileSizeLimit;

ssize_t open_hdf5_objects() { return H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL); }

class WriteFailureTest : public ::testing::Test {
 protected:
  std::string file(const std::string& name) const { return scratch_.file(name); }
  std::vector<std::string> listing() const { return scratch_.listing(); }

  // Publishes `path` holding `values` at /values and the attribute note = `note`.
  static void write_hdf5(const std::string& path, const std::vector<double>& values, const std::string& note) {
    Hdf5File written = Hdf5File::create(path, "statistics");
    written.write("/values", {static_cast<int64_t>(values.size())}, values.data());
    written.set_attribute("note", note);
    written.commit();
  }

  // The failed write left `path` as write_hdf5(path, {1, 2, 3}, "old") made it, no temporary, no HDF5
  // object open, and HDF5 still writes and reads files.
  void expect_old_file_and_working_hdf5(const std::string& path, ssize_t objects_before) {
    EXPECT_EQ(listing(), std::vector<std::string>{fs::path(path).filename().string()}) << "no temporary left";
    EXPECT_EQ(open_hdf5_objects(), objects_before) << "the failed file is closed";
    {
      const Hdf5File old = Hdf5File::open(path);
      EXPECT_EQ(old.string_attribute("note"), "old");
      EXPECT_EQ(old.read_doubles("/values"), (std::vector<double>{1, 2, 3}));
    }
    const std::string next = file("next.h5");
    write_hdf5(next, {4, 5}, "next");
    EXPECT_EQ(Hdf5File::open(next).read_doubles("/values"), (std::vector<double>{4, 5}));
    EXPECT_EQ(open_hdf5_objects(), objects_before);
  }

  testing::ScratchDirectory scratch_{"write-failure"};
};

TEST_F(WriteFailureTest, FailedHdf5WriteNamesTheFileAndLeavesTheOldOne) {
  const std::string path = file("stats.h5");
  write_hdf5(path, {1, 2, 3}, "old");
  const ssize_t objects_before = open_hdf5_objects();
  const std::string message = error_message([&] {
    const FileSizeLimit limit(64 << 10);
    write_hdf5(path, std::vector<double>(1 << 17, 0.5), "new");  // 1 MiB of values, written by write()
  });
  EXPECT_NE(message.find("statistics " + path + ": cannot write " + path + ".tmp: File too large"), std::string::npos)
      << message;
  expect_old_file_and_working_hdf5(path, objects_before);
}

TEST_F(WriteFailureTest, Hdf5WriteFailingWhileClosingIsReportedByCommit) {
  // HDF5 holds small writes and its metadata until the file is closed: the write fails in commit().
  const std::string path = file("stats.h5");
  write_hdf5(path, {1, 2, 3}, "old");
  const ssize_t objects_before = open_hdf5_objects();
  std::string message;
  {
    const FileSizeLimit limit(4096);
    Hdf5File written = Hdf5File::create(path, "statistics");
    written.write("/values", {8}, std::vector<double>(8, 0.5).data());
    written.set_attribute("note", std::string("new"));
    message = error_message([&] { written.commit(); });
  }
  EXPECT_NE(message.find("statistics " + path + ": cannot write " + path + ".tmp: File too large"), std::string::npos)
      << message;
  expect_old_file_and_working_hdf5(path, objects_before);
}

TEST_F(WriteFailureTest, FailedWholeFileWriteNamesTheFileAndLeavesTheOldOne) {
  const std::string path = file("config.yaml");
  write_file_atomically(path, std::string("old\n"));
  const std::string message = error_message([&] {
    const FileSizeLimit limit(1024);
    write_file_atomically(path, std::string(4096, 'x'));
  });
  EXPECT_NE(message.find("cannot write " + path + ": "), std::string::npos) << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;
  EXPECT_EQ(listing(), std::vector<std::string>{"config.yaml"}) << "no temporary left";
  std::ifstream stream(path);
  std::stringstream text;
  text << stream.rdbuf();
  EXPECT_EQ(text.str(), "old\n");
}

// An event file is appended to record by record: the record that does not fit is an error naming the file.
TEST_F(WriteFailureTest, FailedEventWriteNamesTheFile) {
  std::string path;
  const std::string message = error_message([&] {
    EventFileWriter writer(scratch_.path().string(), 0);
    path = writer.path();
    const FileSizeLimit limit(1024);
    writer.write_scalars(1, {{"loss", 0.5}});
    writer.write_image(1, "samples", PngImage{std::string(4096, 'x'), 64, 64, 1});
  });
  EXPECT_NE(message.find("cannot write " + path + ": File too large"), std::string::npos) << message;
}

}  // namespace
}  // namespace diffuse
