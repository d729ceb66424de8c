#include <gtest/gtest.h>
#include <zip.h>

#include <cstring>
#include <fstream>

#include "io/npz.h"
#include "tests/support/op_testing.h"
#include "tests/support/scratch_directory.h"

namespace diffuse {
namespace {

using testing::error_message;

// A .npy of `version` (1, 2 or 3) with the header dict `dict` followed by `data`.
std::string npy(int version, const std::string& dict, const std::string& data) {
  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(version);
  bytes += '\0';
  const size_t length = dict.size();
  for (int i = 0; i < (version == 1 ? 2 : 4); ++i) bytes += static_cast<char>((length >> (8 * i)) & 0xff);
  return bytes + dict + data;
}

std::string doubles(std::initializer_list<double> values) {
  std::string bytes(values.size() * sizeof(double), '\0');
  std::memcpy(bytes.data(), values.begin(), bytes.size());
  return bytes;
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(Npy, ReadsEveryVersionAndKeyOrder) {
  for (const int version : {1, 2, 3}) {
    const NpyArray array =
        parse_npy(npy(version, "{'shape': (1, 2), 'fortran_order': False, 'descr': '<f8', }   \n", doubles({1.5, -2})));
    EXPECT_EQ(array.shape, (Shape{1, 2}));
    EXPECT_EQ(array.values, (std::vector<double>{1.5, -2}));
  }
  EXPECT_EQ(parse_npy(npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", doubles({7}))).values,
            std::vector<double>{7})
      << "a 0-d array holds one value";
}

TEST(Npy, BadFilesAreErrorsThatSayWhy) {
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
  EXPECT_CONTAINS(error_message([] { parse_npy("PK\x03\x04"); }), "not a .npy array");
  EXPECT_CONTAINS(error_message([&] { parse_npy(npy(4, dict, doubles({1, 2}))); }), ".npy version 4.0 is not one of");
  EXPECT_CONTAINS(error_message([&] {
                    parse_npy(npy(1, dict, doubles({1, 2})).substr(0, 20));
                  }),
                  "the .npy header is truncated");
  EXPECT_CONTAINS(error_message([&] { parse_npy(npy(1, dict, doubles({1}))); }),
                  "it holds 8 bytes of data but its shape [2] of <f8 needs 16");
  EXPECT_CONTAINS(error_message([] {
                    parse_npy(npy(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", doubles({1})));
                  }),
                  "its dtype '>f8' is not little-endian float32 or float64");
  EXPECT_CONTAINS(error_message([] { parse_npy(npy(1, "{'descr': '<f8', 'shape': (1,), }", doubles({1}))); }),
                  "its .npy header is not a dict of 'descr', 'fortran_order' and 'shape'");
  EXPECT_CONTAINS(error_message([] {
                    parse_npy(npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", doubles({1})));
                  }),
                  "its .npy header is not a dict");
}

// Writes the .npz `path` holding `member` (stored, uncompressed) with `bytes`, its central directory claiming
// `claimed` bytes instead when that is not 0: the size a crafted archive lies about.
void write_npz(const std::string& path, const std::string& member, const std::string& bytes, uint32_t claimed = 0) {
  int code = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  ASSERT_NE(archive, nullptr);
  zip_source_t* source = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
  const zip_int64_t index = zip_file_add(archive, member.c_str(), source, 0);
  ASSERT_GE(index, 0);
  ASSERT_EQ(zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0), 0);
  ASSERT_EQ(zip_close(archive), 0);
  if (claimed == 0) return;
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string zip((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const size_t central = zip.find("PK\x01\x02");
  ASSERT_NE(central, std::string::npos);
  for (int i = 0; i < 4; ++i) zip[central + 24 + i] = static_cast<char>((claimed >> (8 * i)) & 0xff);
  file.seekp(0);
  file.write(zip.data(), static_cast<std::streamsize>(zip.size()));
}

TEST(Npz, ReadsArraysWithinTheirCeilings) {
  const testing::ScratchDirectory scratch("npz");
  const std::string bytes = npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", doubles({1, 2}));
  write_npz(scratch.file("a.npz"), "mu.npy", bytes);
  EXPECT_EQ(read_npz_arrays(scratch.file("a.npz"), {{"mu", bytes.size()}}).at("mu").values,
            (std::vector<double>{1, 2}));
  EXPECT_CONTAINS(error_message([&] {
                    read_npz_arrays(scratch.file("a.npz"), {{"mu", bytes.size() - 1}});
                  }),
                  "npz " + scratch.file("a.npz") + ": mu.npy claims " + std::to_string(bytes.size()) +
                      " bytes, more than the " + std::to_string(bytes.size() - 1) + " it may hold");
}

TEST(Npz, ClaimedSizesAreNotBelievedBeyondTheCeilingOrTheData) {
  const testing::ScratchDirectory scratch("npz");
  const std::string bytes = npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", doubles({1, 2}));
  write_npz(scratch.file("huge.npz"), "sigma.npy", bytes, 64u << 20);  // 64 MiB in a file of 200 bytes
  EXPECT_CONTAINS(error_message([&] {
                    read_npz_arrays(scratch.file("huge.npz"), {{"sigma", 4096}});
                  }),
                  "npz " + scratch.file("huge.npz") + ": sigma.npy claims 67108864 bytes, more than the 4096");
  write_npz(scratch.file("short.npz"), "sigma.npy", bytes, static_cast<uint32_t>(bytes.size() + 8));
  EXPECT_CONTAINS(error_message([&] {
                    read_npz_arrays(scratch.file("short.npz"), {{"sigma", 4096}});
                  }),
                  "npz " + scratch.file("short.npz") + ": cannot read sigma.npy");
}

}  // namespace
}  // namespace diffuse
