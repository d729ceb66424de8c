#include <gtest/gtest.h>

#include <cstring>

#include "io/npz.h"
#include "tests/support/op_testing.h"

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

}  // namespace
}  // namespace diffuse
