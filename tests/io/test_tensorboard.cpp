// TensorBoard event files: CRC-32C against its standard check values, varints, and the whole file against one
// that TensorBoard's own writer framed and serialized (tests/reference/tensorboard_events.tfevents, written by
// tools/make_tensorboard_fixture.py from the same events and wall times); the file name sorts after the event
// files already in the directory, which stay as they were.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "io/crc32c.h"
#include "io/event_file_writer.h"
#include "io/protobuf_wire.h"
#include "io/tensorboard_events.h"
#include "io/tfrecord.h"
#include "tests/support/scratch_directory.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDirectory;

std::string read_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

std::string varint(uint64_t value) {
  std::string out;
  append_varint(out, value);
  return out;
}

TEST(TensorBoardTest, Crc32cGivesTheStandardCheckValues) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  const std::string zeros(32, '\0');  // RFC 3720, B.4
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
}

TEST(TensorBoardTest, VarintsHoldSevenBitsPerByteLowFirst) {
  EXPECT_EQ(varint(0), std::string("\x00", 1));
  EXPECT_EQ(varint(127), "\x7f");
  EXPECT_EQ(varint(128), "\x80\x01");
  EXPECT_EQ(varint(300), "\xac\x02");
  EXPECT_EQ(varint(static_cast<uint64_t>(int64_t{-1})), "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
}

// The first record of the reference file: the length, its masked CRC, the event, the event's masked CRC.
TEST(TensorBoardTest, RecordFramingMatchesTensorBoards) {
  const std::string event = tensorboard::file_version_event(1700000000.25);
  const std::string record = tfrecord(event);
  ASSERT_EQ(record.size(), 8 + 4 + event.size() + 4);
  EXPECT_EQ(record.substr(0, 8), std::string("\x18\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(record.substr(12, event.size()), event);
  EXPECT_EQ(read_bytes(DIFFUSE_TENSORBOARD_FIXTURE).substr(0, record.size()), record);
}

TEST(TensorBoardTest, EventFileMatchesTensorBoardsWriterByteForByte) {
  ScratchDirectory scratch("tensorboard");
  const std::vector<double> wall_times = {1700000000.25, 1700000001.5, 1700000002.0, 1700000003.75};
  size_t next = 0;
  std::string path;
  {
    EventFileWriter writer(scratch.path().string(), /*continues_from_step=*/2, [&] { return wall_times.at(next++); });
    path = writer.path();
    writer.write_scalars(3, {{"loss", 0.25}, {"lr", 0.0}, {"grad_norm", 1e-3}});
    writer.write_scalars(300, {{"loss", -1.5}});
    std::string image_bytes = "\x89PNG\r\n\x1a\n";
    for (int byte = 0; byte < 192; ++byte) image_bytes.push_back(static_cast<char>(byte));
    writer.write_image(300, "samples", PngImage{image_bytes, 2, 3, 1});
  }
  EXPECT_EQ(fs::path(path).filename().string().rfind("events.out.tfevents.1700000000.", 0), 0u) << path;
  const std::string written = read_bytes(path), reference = read_bytes(DIFFUSE_TENSORBOARD_FIXTURE);
  ASSERT_FALSE(reference.empty()) << DIFFUSE_TENSORBOARD_FIXTURE;
  EXPECT_TRUE(written == reference) << "the event file differs from " << DIFFUSE_TENSORBOARD_FIXTURE;
}

// TensorBoard reads a directory's event files in name order: a resumed run's file must come last, whatever the
// clock says, and must not replace an earlier one.
TEST(TensorBoardTest, NewFileSortsAfterTheFilesAlreadyThere) {
  ScratchDirectory scratch("tensorboard");
  const std::string earlier = scratch.file("events.out.tfevents.1900000000.elsewhere");
  std::ofstream(earlier) << "earlier run";
  const std::string path = EventFileWriter(scratch.path().string(), 0, [] { return 1700000000.0; }).path();
  EXPECT_EQ(fs::path(path).filename().string().rfind("events.out.tfevents.1900000001.", 0), 0u) << path;
  EXPECT_EQ(read_bytes(earlier), "earlier run");
  const std::string again = EventFileWriter(scratch.path().string(), 0, [] { return 1700000000.0; }).path();
  EXPECT_EQ(fs::path(again).filename().string().rfind("events.out.tfevents.1900000002.", 0), 0u) << again;
}

}  // namespace
}  // namespace diffuse
