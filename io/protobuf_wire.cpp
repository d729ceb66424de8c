#include "io/protobuf_wire.h"

#include <cstring>

#include "io/little_endian.h"

namespace diffuse {

void append_varint(std::string& out, uint64_t value) {
  while (value >= 0x80u) {
    out.push_back(static_cast<char>((value & 0x7Fu) | 0x80u));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void ProtoMessage::key(int field, int wire_type) {
  append_varint(encoded_, (static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

ProtoMessage& ProtoMessage::varint(int field, uint64_t value) {
  key(field, 0);
  append_varint(encoded_, value);
  return *this;
}

ProtoMessage& ProtoMessage::float64(int field, double value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  key(field, 1);
  append_little_endian(encoded_, bits, 8);
  return *this;
}

ProtoMessage& ProtoMessage::float32(int field, float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  key(field, 5);
  append_little_endian(encoded_, bits, 4);
  return *this;
}

ProtoMessage& ProtoMessage::bytes(int field, std::string_view value) {
  key(field, 2);
  append_varint(encoded_, value.size());
  encoded_.append(value);
  return *this;
}

}  // namespace diffuse
