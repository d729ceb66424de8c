// CRC-32C (Castagnoli), the checksum of TFRecord files (io/tfrecord.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace diffuse {

// The CRC-32C of `size` bytes at `data`: crc32c("123456789") = 0xE3069283.
uint32_t crc32c(const void* data, size_t size);

}  // namespace diffuse
