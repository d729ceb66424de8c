// Parsing and validating IDX files.
#include "data/idx_file.h"

#include "core/error.h"
#include "io/file_io.h"

namespace diffuse {

namespace {
constexpr uint8_t kUnsignedByteType = 0x08;

uint32_t big_endian_u32(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]};
}
}  // namespace

IdxArray read_idx(const std::string& path, int expected_rank) {
  IdxArray array;
  array.file = read_file_bytes(path);
  const std::vector<uint8_t>& file = array.file;
  DIFFUSE_CHECK(file.size() >= 4, "IDX file ", path, " is too short to hold a header (", file.size(), " bytes)");
  const uint32_t magic = big_endian_u32(file.data());
  const uint32_t expected_magic = (uint32_t{kUnsignedByteType} << 8) | static_cast<uint32_t>(expected_rank);
  DIFFUSE_CHECK(magic == expected_magic, "IDX file ", path, " has magic number 0x", std::hex, magic, ", expected 0x",
                expected_magic, std::dec, " (unsigned bytes, rank ", expected_rank, "); is it an IDX ",
                expected_rank == 1 ? "label" : "image", " file?");
  array.data_offset = 4 + 4 * static_cast<size_t>(expected_rank);
  DIFFUSE_CHECK(file.size() >= array.data_offset, "IDX file ", path, " is truncated inside its header");
  uint64_t elements = 1;
  std::string extents_text;
  for (int axis = 0; axis < expected_rank; ++axis) {
    const uint32_t extent = big_endian_u32(file.data() + 4 + 4 * axis);
    array.extents.push_back(extent);
    elements *= extent;
    extents_text += (axis ? "x" : "") + std::to_string(extent);
  }
  const uint64_t available = file.size() - array.data_offset;
  DIFFUSE_CHECK(available >= elements, "IDX file ", path, " is truncated: its header declares ", extents_text, " = ",
                elements, " bytes of data but only ", available, " follow");
  DIFFUSE_CHECK(available == elements, "IDX file ", path, " has ", available - elements, " unexpected bytes after the ",
                extents_text, " elements its header declares");
  DIFFUSE_CHECK(array.extents[0] > 0, "IDX file ", path, " holds no items");
  return array;
}

}  // namespace diffuse
