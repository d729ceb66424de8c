// The IDX format of MNIST and Fashion-MNIST: a 4-byte magic (0, 0, type,
// rank), `rank` big-endian uint32 extents, then the elements. Only unsigned
// byte elements (type 0x08), which is what the image and label files use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace diffuse {

struct IdxArray {
  std::vector<int64_t> extents;  // e.g. {60000, 28, 28}
  std::vector<uint8_t> file;     // the whole (decompressed) file
  size_t data_offset = 0;        // where the elements start in `file`

  const uint8_t* data() const { return file.data() + data_offset; }
};

// Reads and validates an IDX file (gzipped or not) of the expected rank:
// magic, element type, and a size that matches the header exactly.
IdxArray read_idx(const std::string& path, int expected_rank);

}  // namespace diffuse
