#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <fstream>

#include "core/half.h"
#include "io/safetensors.h"
#include "tests/support/op_testing.h"
#include "tests/support/scratch_directory.h"

namespace diffuse {
namespace {

using testing::error_message;

class SafetensorsTest : public ::testing::Test {
 protected:
  std::string file(const std::string& name) const { return scratch_.file(name); }

  // A file of `header` (its length in front, little-endian) and then `data`, as is: how bad files are made.
  std::string craft(const std::string& header, const std::string& data = "", uint64_t length = UINT64_MAX) const {
    const std::string path = file("crafted.safetensors");
    if (length == UINT64_MAX) length = header.size();
    std::string bytes;
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
    std::ofstream(path, std::ios::binary) << bytes << header << data;
    return path;
  }

  // The error opening `path` (and reading every tensor) gives; it must name the file.
  static std::string open_error(const std::string& path) {
    const std::string message = error_message([&] {
      const SafetensorsReader reader(path);
      for (const SafetensorsEntry& entry : reader.entries()) reader.read_f32(entry.name);
    });
    EXPECT_NE(message.find("safetensors " + path + ": "), std::string::npos) << message;
    return message;
  }

  testing::ScratchDirectory scratch_{"safetensors"};
};

#define EXPECT_CONTAINS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST_F(SafetensorsTest, RoundTripKeepsNamesShapesValuesAndMetadata) {
  Tensor bf16_values = Tensor::empty({2}, DType::BF16);
  static_cast<bf16*>(bf16_values.raw())[0] = float_to_bf16(1.5f);
  static_cast<bf16*>(bf16_values.raw())[1] = float_to_bf16(-0.25f);
  Tensor f16_values = Tensor::empty({1, 1}, DType::F16);
  static_cast<f16*>(f16_values.raw())[0] = float_to_f16(0.125f);
  const std::string path = file("model.safetensors");
  write_safetensors(path,
                    {{"weight", from_vector({1, -2, 3.5f, 4, 5, 6e-7f}, {2, 3})},
                     {"bias", bf16_values},
                     {"scale", f16_values},
                     {"empty", Tensor::empty({0, 3})}},
                    {{"format", "pt"}, {"step", "100"}});

  const SafetensorsReader reader(path);
  ASSERT_EQ(reader.entries().size(), 4u);
  EXPECT_EQ(reader.entries()[0].name, "bias");
  EXPECT_EQ(reader.entries()[0].dtype, "BF16");
  EXPECT_EQ(reader.entries()[3].name, "weight");
  EXPECT_EQ(reader.entries()[3].dtype, "F32");
  EXPECT_EQ(reader.entries()[3].shape, (Shape{2, 3}));
  EXPECT_EQ(reader.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"step", "100"}}));
  EXPECT_EQ(to_vector(reader.read_f32("weight")), (std::vector<float>{1, -2, 3.5f, 4, 5, 6e-7f}));
  EXPECT_EQ(to_vector(reader.read_f32("bias")), (std::vector<float>{1.5f, -0.25f}));
  EXPECT_EQ(reader.read_f32("scale").shape(), (Shape{1, 1}));
  EXPECT_EQ(to_vector(reader.read_f32("scale")), std::vector<float>{0.125f});
  EXPECT_EQ(reader.read_f32("empty").shape(), (Shape{0, 3}));

  // The header is padded with spaces to a multiple of 8 bytes, as the reference implementation does.
  const std::string bytes = testing::read_text_file(path);
  const uint64_t header_length = static_cast<unsigned char>(bytes[0]) | static_cast<unsigned char>(bytes[1]) << 8;
  EXPECT_EQ(header_length % 8, 0u);
  EXPECT_EQ(bytes.substr(8, 16), R"({"__metadata__":)");
  EXPECT_EQ(bytes.size(), 8 + header_length + 6 * 4 + 2 * 2 + 2);
}

TEST_F(SafetensorsTest, ReadsTheFileOfPythonsSafetensorsPackage) {
  const SafetensorsReader reader(DIFFUSE_SAFETENSORS_FIXTURE);
  std::vector<std::string> names;
  for (const SafetensorsEntry& entry : reader.entries()) names.push_back(entry.name + " " + entry.dtype);
  EXPECT_EQ(names, (std::vector<std::string>{"bf16 BF16", "empty F32", "f16 F16", "f32 F32", "f64 F64", "i64 I64"}));
  EXPECT_EQ(reader.metadata(),
            (std::map<std::string, std::string>{{"format", "pt"}, {"source", "make_safetensors_fixture.py"}}));
  EXPECT_EQ(reader.entry("f32").shape, (Shape{2, 3}));
  EXPECT_EQ(to_vector(reader.read_f32("f32")), (std::vector<float>{1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, -1e6f}));
  EXPECT_EQ(to_vector(reader.read_f32("f16")),
            (std::vector<float>{0.5f, -1.25f, 65504.0f, std::ldexp(1.0f, -14), std::ldexp(1.0f, -24)}));
  EXPECT_EQ(to_vector(reader.read_f32("bf16")), (std::vector<float>{1.5f, -2.25f, 3.140625f}));
  EXPECT_EQ(to_vector(reader.read_f32("f64")), (std::vector<float>{static_cast<float>(1.0 / 3.0), -0.125f}));
  EXPECT_EQ(reader.read_f32("empty").shape(), (Shape{0, 4}));
}

TEST_F(SafetensorsTest, UnsupportedDtypeIsListedButReadingItNamesTheTensorAndDtype) {
  const SafetensorsReader reader(DIFFUSE_SAFETENSORS_FIXTURE);
  EXPECT_EQ(reader.entry("i64").shape, Shape{2});
  const std::string message = error_message([&] { reader.read_f32("i64"); });
  EXPECT_CONTAINS(message, std::string("safetensors ") + DIFFUSE_SAFETENSORS_FIXTURE + ": tensor 'i64' has dtype I64");
}

TEST_F(SafetensorsTest, MissingTensorNamesTheFileAndTheName) {
  const SafetensorsReader reader(DIFFUSE_SAFETENSORS_FIXTURE);
  EXPECT_FALSE(reader.contains("conv.weight"));
  EXPECT_TRUE(reader.contains("f32"));
  const std::string message = error_message([&] { reader.read_f32("conv.weight"); });
  EXPECT_CONTAINS(message,
                  std::string("safetensors ") + DIFFUSE_SAFETENSORS_FIXTURE + ": there is no tensor 'conv.weight'");
}

TEST_F(SafetensorsTest, TruncatedOrOversizedHeadersAreErrors) {
  const std::string tiny = file("tiny.safetensors");
  std::ofstream(tiny) << "abc";
  EXPECT_CONTAINS(open_error(tiny), "fewer than the 8-byte header length");
  EXPECT_CONTAINS(open_error(craft("{}", "", 1000)), "the header length 1000 runs past the end of the file (10 bytes)");
  EXPECT_CONTAINS(open_error(craft("{}", "", uint64_t{1} << 62)), "is larger than the 100000000 bytes allowed");
}

TEST_F(SafetensorsTest, HeaderMustBeAJsonObject) {
  EXPECT_CONTAINS(open_error(craft("[1, 2]")), "the header is not a JSON object");
  EXPECT_CONTAINS(open_error(craft("{\"a\": ")), "the header is not valid JSON");
  EXPECT_CONTAINS(open_error(craft(R"({"a": 3})")), "tensor 'a' is not described by a JSON object");
  EXPECT_CONTAINS(open_error(craft(R"({"__metadata__": {"k": 1}})")), "value of \"k\" is not a string");
}

// JSON parsers keep one of two equal keys silently; a header naming a tensor twice is ambiguous.
TEST_F(SafetensorsTest, ATensorNamedTwiceIsAnError) {
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                                       "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
                                   "abcd")),
                  "the header names 'a' twice");
  EXPECT_CONTAINS(open_error(craft(R"({"__metadata__": {"k": "x"}, "__metadata__": {"k": "y"}})")),
                  "the header names '__metadata__' twice");
}

TEST_F(SafetensorsTest, EntriesNeedDtypeShapeAndOffsetsOfTheRightTypes) {
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", "abcd")),
                  "tensor 'a' has no string \"dtype\"");
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}})", "abcd")),
                  "tensor 'a' has no array \"shape\"");
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", "abcd")),
                  "dimensions must be non-negative integers");
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", "abcd")),
                  "tensor 'a' has no \"data_offsets\"");
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 4]}})", "abcd")),
                  "tensor 'a' has dtype \"Q4\", which the format does not define");
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296],
                                             "data_offsets": [0, 4]}})",
                                   "abcd")),
                  "too large to address");
}

TEST_F(SafetensorsTest, OffsetsMustMatchShapesAndCoverTheDataSectionExactly) {
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", "abcd")),
                  "tensor 'a' has data_offsets [0, 8] past the end of the data section (4 bytes)");
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})", "abcd")),
                  "begin is past end");
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", "abcd")),
                  "tensor 'a' holds 4 bytes but its shape [2] of F32 needs 8");
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                       "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                                   "abcdefghijkl")),
                  "tensors 'a' and 'b' overlap");
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", "abcdefgh")),
                  "bytes [0, 4) of the data section belong to no tensor");
  EXPECT_CONTAINS(open_error(craft(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", "abcdefgh")),
                  "bytes [4, 8) at the end of the data section belong to no tensor");
}

TEST_F(SafetensorsTest, FailedWriteLeavesTheOldFile) {
  const std::string path = file("model.safetensors");
  write_safetensors(path, {{"w", from_vector({1, 2}, {2})}});
  const std::string before = testing::read_text_file(path);
  const std::string message = error_message([&] {
    write_safetensors(path, {{"w", from_vector({3}, {1})}, {"labels", Tensor::empty({2}, DType::I32)}});
  });
  EXPECT_CONTAINS(message, "cannot write " + path + ": tensor 'labels' is i32[2]@cpu");
  EXPECT_CONTAINS(error_message([&] {
                    write_safetensors(path, {{"w", from_vector({3}, {1})}, {"w", from_vector({3}, {1})}});
                  }),
                  "two tensors are named 'w'");
  EXPECT_EQ(testing::read_text_file(path), before);
  EXPECT_EQ(scratch_.listing(), std::vector<std::string>{"model.safetensors"});
}

}  // namespace
}  // namespace diffuse
