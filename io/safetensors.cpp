// safetensors: validating the header when a file is opened, converting tensors to f32, writing files.
#include "io/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "core/half.h"
#include "io/atomic_file.h"
#include "io/file_context.h"
#include "io/json.h"
#include "io/little_endian.h"

// The format is little-endian; so is every machine diffuse runs on, which lets bytes be copied as they are.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace diffuse {

namespace {

constexpr const char* kWhat = "safetensors";
constexpr const char* kMetadataKey = "__metadata__";
constexpr uint64_t kHeaderLengthBytes = 8;
// The reference implementation's limit: a larger header is a corrupt or hostile file.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// Bytes per element of every dtype the format defines; 0 for a name it does not define.
uint64_t dtype_bytes(const std::string& dtype) {
  static const std::map<std::string, uint64_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"I64", 8},     {"U64", 8}, {"F64", 8}};
  const auto found = sizes.find(dtype);
  return found == sizes.end() ? 0 : found->second;
}

struct CloseFile {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePointer = std::unique_ptr<std::FILE, CloseFile>;

FilePointer open_for_reading(const std::string& path) {
  FilePointer file(std::fopen(path.c_str(), "rb"));
  DIFFUSE_CHECK(file, "cannot open it: ", std::strerror(errno));
  return file;
}

uint64_t file_size(std::FILE* file) {
  DIFFUSE_CHECK(fseeko(file, 0, SEEK_END) == 0, "cannot seek: ", std::strerror(errno));
  const off_t size = ftello(file);
  DIFFUSE_CHECK(size >= 0, "cannot tell its size: ", std::strerror(errno));
  return static_cast<uint64_t>(size);
}

void read_at(std::FILE* file, uint64_t offset, void* bytes, uint64_t size, const std::string& what) {
  DIFFUSE_CHECK(fseeko(file, static_cast<off_t>(offset), SEEK_SET) == 0, "cannot seek to ", what, ": ",
                std::strerror(errno));
  DIFFUSE_CHECK(std::fread(bytes, 1, size, file) == size, "cannot read ", what, " (", size, " bytes at offset ", offset,
                "): ", std::ferror(file) ? std::strerror(errno) : "the file ends before them");
}

// One header entry, checked against the data section's size.
SafetensorsEntry parse_entry(const std::string& name, const Json& value, uint64_t data_size) {
  const std::string tensor = "tensor '" + name + "'";
  DIFFUSE_CHECK(value.is_object(), tensor, " is not described by a JSON object");
  SafetensorsEntry entry;
  entry.name = name;
  DIFFUSE_CHECK(value.contains("dtype") && value["dtype"].is_string(), tensor, " has no string \"dtype\"");
  entry.dtype = value["dtype"].get<std::string>();
  const uint64_t element_bytes = dtype_bytes(entry.dtype);
  DIFFUSE_CHECK(element_bytes > 0, tensor, " has dtype \"", entry.dtype, "\", which the format does not define");

  DIFFUSE_CHECK(value.contains("shape") && value["shape"].is_array(), tensor, " has no array \"shape\"");
  uint64_t bytes = element_bytes;
  for (const Json& dim : value["shape"]) {
    DIFFUSE_CHECK(dim.is_number_unsigned() && dim.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX), tensor,
                  " has shape ", value["shape"].dump(), ": dimensions must be non-negative integers");
    const uint64_t size = dim.get<uint64_t>();
    DIFFUSE_CHECK(!__builtin_mul_overflow(bytes, size, &bytes), tensor, " has shape ", value["shape"].dump(),
                  ", too large to address");
    entry.shape.push_back(static_cast<int64_t>(size));
  }

  const Json* offsets = value.contains("data_offsets") ? &value["data_offsets"] : nullptr;
  DIFFUSE_CHECK(offsets && offsets->is_array() && offsets->size() == 2 && (*offsets)[0].is_number_unsigned() &&
                    (*offsets)[1].is_number_unsigned(),
                tensor, " has no \"data_offsets\" [begin, end] of two non-negative integers");
  entry.begin = (*offsets)[0].get<uint64_t>();
  entry.end = (*offsets)[1].get<uint64_t>();
  DIFFUSE_CHECK(entry.begin <= entry.end, tensor, " has data_offsets [", entry.begin, ", ", entry.end,
                "]: begin is past end");
  DIFFUSE_CHECK(entry.end <= data_size, tensor, " has data_offsets [", entry.begin, ", ", entry.end,
                "] past the end of the data section (", data_size, " bytes)");
  DIFFUSE_CHECK(entry.end - entry.begin == bytes, tensor, " holds ", entry.end - entry.begin, " bytes but its shape ",
                shape_string(entry.shape), " of ", entry.dtype, " needs ", bytes);
  return entry;
}

std::map<std::string, std::string> parse_metadata(const Json& value) {
  DIFFUSE_CHECK(value.is_object(), "\"", kMetadataKey, "\" is not a JSON object");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, text] : value.items()) {
    DIFFUSE_CHECK(text.is_string(), "\"", kMetadataKey, "\" value of \"", key, "\" is not a string");
    metadata[key] = text.get<std::string>();
  }
  return metadata;
}

// The data section must be covered exactly: no two tensors share a byte and no byte belongs to none (so a
// file cannot carry hidden contents).
void check_coverage(std::vector<const SafetensorsEntry*> entries, uint64_t data_size) {
  std::sort(entries.begin(), entries.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;  // bytes [0, covered) belong to the tensors so far
  const SafetensorsEntry* previous = nullptr;
  for (const SafetensorsEntry* entry : entries) {
    DIFFUSE_CHECK(entry->begin >= covered, "tensors '", previous ? previous->name : "", "' and '", entry->name,
                  "' overlap: data_offsets [", previous ? previous->begin : 0, ", ", covered, "] and [", entry->begin,
                  ", ", entry->end, "]");
    DIFFUSE_CHECK(entry->begin == covered, "bytes [", covered, ", ", entry->begin,
                  ") of the data section belong to no tensor");
    if (entry->end > entry->begin) previous = entry;  // an empty tensor overlaps nothing
    covered = entry->end;
  }
  DIFFUSE_CHECK(covered == data_size, "bytes [", covered, ", ", data_size,
                ") at the end of the data section belong to no tensor");
}

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "F32";
    case DType::BF16:
      return "BF16";
    case DType::F16:
      return "F16";
    default:
      return nullptr;
  }
}

}  // namespace

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path) {
  with_file_context(kWhat, path, [&] {
    const FilePointer file = open_for_reading(path);
    const uint64_t size = file_size(file.get());
    DIFFUSE_CHECK(size >= kHeaderLengthBytes, "the file has ", size, " bytes, fewer than the ", kHeaderLengthBytes,
                  "-byte header length");
    unsigned char length_bytes[kHeaderLengthBytes];
    read_at(file.get(), 0, length_bytes, kHeaderLengthBytes, "the header length");
    const uint64_t header_bytes = read_little_endian(length_bytes, static_cast<int>(kHeaderLengthBytes));
    DIFFUSE_CHECK(header_bytes <= kMaxHeaderBytes, "the header length ", header_bytes, " is larger than the ",
                  kMaxHeaderBytes, " bytes allowed");
    DIFFUSE_CHECK(header_bytes <= size - kHeaderLengthBytes, "the header length ", header_bytes,
                  " runs past the end of the file (", size, " bytes)");
    std::string header(header_bytes, '\0');
    read_at(file.get(), kHeaderLengthBytes, header.data(), header_bytes, "the header");
    data_start_ = kHeaderLengthBytes + header_bytes;
    const uint64_t data_size = size - data_start_;

    DIFFUSE_CHECK(!header.empty() && header[0] == '{', "the header is not a JSON object");
    Json parsed;
    // The parser keeps one of two equal keys silently, so names are counted as they are read.
    std::set<std::string> names;
    std::string repeated_name;
    const auto note_repeated_names = [&](int depth, Json::parse_event_t event, Json& parsed_value) {
      if (depth == 1 && event == Json::parse_event_t::key && !names.insert(parsed_value.get<std::string>()).second &&
          repeated_name.empty())
        repeated_name = parsed_value.get<std::string>();
      return true;
    };
    try {
      parsed = Json::parse(header, note_repeated_names);
    } catch (const Json::parse_error& error) {
      fail(concat("the header is not valid JSON: ", error.what()), __FILE__, __LINE__);
    }
    DIFFUSE_CHECK(parsed.is_object(), "the header is not a JSON object");
    DIFFUSE_CHECK(repeated_name.empty(), "the header names '", repeated_name, "' twice");
    for (const auto& [name, value] : parsed.items()) {
      if (name == kMetadataKey)
        metadata_ = parse_metadata(value);
      else
        entries_.push_back(parse_entry(name, value, data_size));
    }
    std::sort(entries_.begin(), entries_.end(),
              [](const SafetensorsEntry& a, const SafetensorsEntry& b) { return a.name < b.name; });
    std::vector<const SafetensorsEntry*> by_offset;
    for (const SafetensorsEntry& entry : entries_) by_offset.push_back(&entry);
    check_coverage(by_offset, data_size);
  });
}

bool SafetensorsReader::contains(const std::string& name) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const SafetensorsEntry& entry) { return entry.name == name; });
}

const SafetensorsEntry& SafetensorsReader::entry(const std::string& name) const {
  return with_file_context(kWhat, path_, [&]() -> const SafetensorsEntry& {
    const auto found = std::find_if(entries_.begin(), entries_.end(),
                                    [&](const SafetensorsEntry& entry) { return entry.name == name; });
    DIFFUSE_CHECK(found != entries_.end(), "there is no tensor '", name, "'");
    return *found;
  });
}

Tensor SafetensorsReader::read_f32(const std::string& name) const {
  const SafetensorsEntry& found = entry(name);
  return with_file_context(kWhat, path_, [&] {
    const std::string& dtype = found.dtype;
    DIFFUSE_CHECK(dtype == "F32" || dtype == "F16" || dtype == "BF16" || dtype == "F64", "tensor '", name,
                  "' has dtype ", dtype, ": only F32, F16, BF16 and F64 tensors are read");
    std::vector<unsigned char> bytes(found.end - found.begin);
    const FilePointer file = open_for_reading(path_);
    read_at(file.get(), data_start_ + found.begin, bytes.data(), bytes.size(), "tensor '" + name + "'");
    Tensor tensor = Tensor::empty(found.shape);
    float* values = tensor.f32();
    const size_t count = static_cast<size_t>(tensor.numel());
    for (size_t i = 0; i < count; ++i) {
      const unsigned char* element = bytes.data() + i * dtype_bytes(dtype);
      if (dtype == "F32") {
        std::memcpy(&values[i], element, sizeof(float));
      } else if (dtype == "F64") {
        double value;
        std::memcpy(&value, element, sizeof(value));
        values[i] = static_cast<float>(value);
      } else {
        uint16_t bits;
        std::memcpy(&bits, element, sizeof(bits));
        values[i] = dtype == "F16" ? f16_to_float(f16{bits}) : bf16_to_float(bf16{bits});
      }
    }
    return tensor;
  });
}

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const NamedTensor*> sorted;
  for (const NamedTensor& named : tensors) sorted.push_back(&named);
  std::sort(sorted.begin(), sorted.end(), [](const NamedTensor* a, const NamedTensor* b) { return a->name < b->name; });

  Json header = Json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t data_size = 0;
  for (const NamedTensor* named : sorted) {
    const Tensor& tensor = named->tensor;
    const char* dtype = safetensors_dtype(tensor.dtype());
    DIFFUSE_CHECK(!named->name.empty() && named->name != kMetadataKey, "cannot write ", path, ": \"", named->name,
                  "\" is not a tensor name");
    DIFFUSE_CHECK(!header.contains(named->name), "cannot write ", path, ": two tensors are named '", named->name, "'");
    DIFFUSE_CHECK(dtype && tensor.device() == Device::CPU, "cannot write ", path, ": tensor '", named->name, "' is ",
                  tensor.describe(), "; only f32, bf16 and f16 CPU tensors are written");
    header[named->name] = {
        {"dtype", dtype}, {"shape", tensor.shape()}, {"data_offsets", {data_size, data_size + tensor.nbytes()}}};
    data_size += tensor.nbytes();
  }
  std::string text = header.dump();
  // As the reference implementation does: spaces up to a multiple of 8, which keeps the data section aligned.
  text.append((kHeaderLengthBytes - text.size() % kHeaderLengthBytes) % kHeaderLengthBytes, ' ');

  std::string bytes;
  bytes.reserve(kHeaderLengthBytes + text.size() + data_size);
  append_little_endian(bytes, text.size(), static_cast<int>(kHeaderLengthBytes));
  bytes += text;
  for (const NamedTensor* named : sorted)
    bytes.append(static_cast<const char*>(named->tensor.raw()), named->tensor.nbytes());
  write_file_atomically(path, bytes);
}

}  // namespace diffuse
