// Little-endian integers in byte buffers, for the formats read and written by hand (safetensors, .npy, TFRecord,
// protobuf): byte by byte, so they hold whatever the host's byte order.
#pragma once

#include <cstdint>
#include <string>

namespace diffuse {

// Appends the low `bytes` bytes of `value` to `out`, least significant first.
inline void append_little_endian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
}

// The unsigned integer stored in `bytes` bytes (at most 8) at `data`, least significant first.
inline uint64_t read_little_endian(const void* data, int bytes) {
  const auto* byte = static_cast<const unsigned char*>(data);
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | byte[i];
  return value;
}

}  // namespace diffuse
