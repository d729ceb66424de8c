// The protobuf wire format, as far as the TensorBoard events (io/tensorboard_events.h) need it: a message is
// written field by field, each as a key (field number << 3 | wire type) and its value. Which fields to leave out
// (proto3 omits those at their default) is the caller's choice.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace diffuse {

// `value` as a base-128 varint, low groups first (a negative int64 is its two's complement: 10 bytes).
void append_varint(std::string& out, uint64_t value);

class ProtoMessage {
 public:
  // int32, int64 and enum fields (wire type 0).
  ProtoMessage& varint(int field, uint64_t value);
  // double (wire type 1, fixed64).
  ProtoMessage& float64(int field, double value);
  // float (wire type 5, fixed32).
  ProtoMessage& float32(int field, float value);
  // string, bytes and embedded messages (wire type 2: length, then the bytes).
  ProtoMessage& bytes(int field, std::string_view value);

  const std::string& encoded() const { return encoded_; }

 private:
  void key(int field, int wire_type);

  std::string encoded_;
};

}  // namespace diffuse
