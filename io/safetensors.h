// safetensors files, the tensor format of Hugging Face's `safetensors` package
// (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON
//   {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ..., "__metadata__": {"k": "v"}}
// then the tensors' little-endian bytes, offsets counted from the end of the
// header. The whole file is validated when it is opened, as the reference
// implementation does: every tensor's bytes lie in the data section, match its
// shape and dtype, and together cover the data section exactly, without
// overlaps or holes. Errors name the file: "safetensors /models/x.safetensors: ...".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace diffuse {

// One tensor as the header describes it.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // the format's name: "F32", "BF16", "I64", ...
  Shape shape;
  uint64_t begin = 0;  // bytes [begin, end) of the data section
  uint64_t end = 0;
};

class SafetensorsReader {
 public:
  // Reads and validates the header of `path`; the tensors are read when asked for.
  explicit SafetensorsReader(const std::string& path);

  const std::string& path() const { return path_; }
  // Every tensor of the file, sorted by name.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  // The header's "__metadata__" (empty when it has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const;
  // Throws an Error naming the file and the tensor when it has no such tensor.
  const SafetensorsEntry& entry(const std::string& name) const;
  // The tensor as f32 with its shape: F32, F16, BF16 and F64 are read, any other dtype is an Error.
  Tensor read_f32(const std::string& name) const;

 private:
  std::string path_;
  uint64_t data_start_ = 0;  // file offset of the data section
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

struct NamedTensor {
  std::string name;
  Tensor tensor;  // on the CPU; f32 (written F32), bf16 (BF16) or f16 (F16)
};

// Writes the tensors, sorted by name, and the metadata as `path`, atomically (io/atomic_file.h): a failure
// leaves any existing file as it was. Names must be distinct, non-empty and not "__metadata__".
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace diffuse
