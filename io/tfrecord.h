// TFRecord framing, the container of TensorBoard event files: each record is
// its length (uint64), the masked CRC-32C of those 8 bytes, the data, and the
// masked CRC-32C of the data, all little-endian.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace diffuse {

// TensorFlow's mask over a CRC-32C, so that a checksum stored next to the data it covers is not itself checksummed
// to a trivial value: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(std::string_view bytes);

// `data` as one record, ready to append to a file.
std::string tfrecord(std::string_view data);

}  // namespace diffuse
