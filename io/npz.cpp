// .npy parsing and .npz archives through libzip.
#include "io/npz.h"

#include <zip.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <memory>

#include "io/file_context.h"
#include "io/little_endian.h"

// .npy elements are little-endian; so is every machine diffuse runs on, which lets them be copied as they are.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, ".npy reading assumes a little-endian host");

namespace diffuse {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;
constexpr uint64_t kMaxNpyHeaderBytes = kMagicBytes + 2 + 2 + 65535;  // magic, version, length, version 1.0's dict

// The .npy header's dict: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } (keys in any order).
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

class HeaderParser {
 public:
  explicit HeaderParser(const std::string& text) : text_(text) {}

  NpyHeader parse() {
    NpyHeader header;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (!consume('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        header.descr = string_literal();
        has_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
        has_order = true;
      } else if (key == "shape") {
        header.shape = tuple();
        has_shape = true;
      } else {
        malformed();
      }
      if (!consume(',')) expect('}');
      if (text_[at_ - 1] == '}') break;
    }
    if (!has_descr || !has_order || !has_shape) malformed();
    return header;
  }

 private:
  [[noreturn]] void malformed() const {
    fail(concat("its .npy header is not a dict of 'descr', 'fortran_order' and 'shape': ", text_), __FILE__, __LINE__);
  }
  void skip_space() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  bool consume(char c) {
    skip_space();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!consume(c)) malformed();
  }
  bool consume_word(const char* word) {
    skip_space();
    if (text_.compare(at_, std::strlen(word), word) != 0) return false;
    at_ += std::strlen(word);
    return true;
  }
  std::string string_literal() {
    skip_space();
    if (at_ >= text_.size() || (text_[at_] != '\'' && text_[at_] != '"')) malformed();
    const size_t close = text_.find(text_[at_], at_ + 1);
    if (close == std::string::npos) malformed();
    std::string value = text_.substr(at_ + 1, close - at_ - 1);
    at_ = close + 1;
    return value;
  }
  bool boolean() {
    if (consume_word("True")) return true;
    if (consume_word("False")) return false;
    malformed();
  }
  Shape tuple() {
    Shape shape;
    expect('(');
    while (!consume(')')) {
      skip_space();
      int64_t value = 0;
      size_t digits = 0;
      for (; at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_])); ++at_, ++digits)
        if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, text_[at_] - '0', &value))
          malformed();
      if (digits == 0) malformed();
      shape.push_back(value);
      if (!consume(',')) expect(')');
      if (text_[at_ - 1] == ')') break;
    }
    return shape;
  }

  const std::string& text_;
  size_t at_ = 0;
};

struct CloseArchive {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
using Archive = std::unique_ptr<zip_t, CloseArchive>;

Archive open_archive(const std::string& path) {
  int code = 0;
  Archive archive(zip_open(path.c_str(), ZIP_RDONLY, &code));
  if (!archive) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    const std::string reason = zip_error_strerror(&error);
    zip_error_fini(&error);
    fail(concat("cannot open it as a zip archive: ", reason), __FILE__, __LINE__);
  }
  return archive;
}

// The names of the archive's members, for the message about a missing one.
std::string member_names(zip_t* archive) {
  std::string names;
  const zip_int64_t count = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const char* name = zip_get_name(archive, static_cast<zip_uint64_t>(i), 0);
    if (name) names += (names.empty() ? "" : ", ") + std::string(name);
  }
  return names.empty() ? "nothing" : names;
}

std::string read_member(zip_t* archive, const NpzArrayRequest& request) {
  const std::string& array = request.name;
  const std::string member = array + ".npy";
  const zip_int64_t index = zip_name_locate(archive, member.c_str(), 0);
  DIFFUSE_CHECK(index >= 0, "there is no array '", array, "' (no ", member, "; the archive holds ",
                member_names(archive), ")");
  zip_stat_t stat;
  zip_stat_init(&stat);
  DIFFUSE_CHECK(
      zip_stat_index(archive, static_cast<zip_uint64_t>(index), 0, &stat) == 0 && (stat.valid & ZIP_STAT_SIZE),
      "cannot read the size of ", member, ": ", zip_strerror(archive));
  // The size is the archive's claim: checked before it sizes the buffer, and the read must fill it exactly.
  DIFFUSE_CHECK(stat.size <= request.max_bytes, member, " claims ", stat.size, " bytes, more than the ",
                request.max_bytes, " it may hold");
  zip_file_t* file = zip_fopen_index(archive, static_cast<zip_uint64_t>(index), 0);
  DIFFUSE_CHECK(file, "cannot open ", member, ": ", zip_strerror(archive));
  std::string bytes(stat.size, '\0');
  const zip_int64_t read = zip_fread(file, bytes.data(), stat.size);
  const std::string reason = read < 0 ? zip_file_strerror(file) : "it ends early";
  zip_fclose(file);
  DIFFUSE_CHECK(read == static_cast<zip_int64_t>(stat.size), "cannot read ", member, ": ", reason);
  return bytes;
}

}  // namespace

NpyArray parse_npy(const std::string& bytes) {
  DIFFUSE_CHECK(bytes.size() >= kMagicBytes + 2 && bytes.compare(0, kMagicBytes, kMagic) == 0,
                "it is not a .npy array (no \\x93NUMPY magic)");
  const int major = static_cast<unsigned char>(bytes[kMagicBytes]);
  const int minor = static_cast<unsigned char>(bytes[kMagicBytes + 1]);
  DIFFUSE_CHECK(major >= 1 && major <= 3 && minor == 0, ".npy version ", major, ".", minor,
                " is not one of 1.0, 2.0 and 3.0");
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t header_start = kMagicBytes + 2 + length_bytes;
  DIFFUSE_CHECK(bytes.size() >= header_start, "the .npy header is truncated");
  const size_t header_length = read_little_endian(bytes.data() + kMagicBytes + 2, static_cast<int>(length_bytes));
  DIFFUSE_CHECK(header_length <= bytes.size() - header_start, "the .npy header is truncated");
  const NpyHeader header = HeaderParser(bytes.substr(header_start, header_length)).parse();

  DIFFUSE_CHECK(header.descr == "<f4" || header.descr == "<f8", "its dtype '", header.descr,
                "' is not little-endian float32 or float64 ('<f4', '<f8')");
  DIFFUSE_CHECK(!header.fortran_order, "it is stored in Fortran order; save it in C order (numpy.ascontiguousarray)");
  const uint64_t element_bytes = header.descr == "<f4" ? 4 : 8;
  uint64_t needed = element_bytes;
  for (const int64_t dim : header.shape)
    DIFFUSE_CHECK(!__builtin_mul_overflow(needed, static_cast<uint64_t>(dim), &needed), "its shape ",
                  shape_string(header.shape), " is too large");
  const uint64_t data_start = header_start + header_length;
  DIFFUSE_CHECK(bytes.size() - data_start == needed, "it holds ", bytes.size() - data_start,
                " bytes of data but its shape ", shape_string(header.shape), " of ", header.descr, " needs ", needed);

  NpyArray array;
  array.shape = header.shape;
  array.values.resize(needed / element_bytes);
  const char* data = bytes.data() + data_start;
  for (size_t i = 0; i < array.values.size(); ++i) {
    if (element_bytes == 4) {
      float value;
      std::memcpy(&value, data + 4 * i, sizeof(value));
      array.values[i] = value;
    } else {
      std::memcpy(&array.values[i], data + 8 * i, sizeof(double));
    }
  }
  return array;
}

uint64_t npy_max_bytes(uint64_t elements) {
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(elements, uint64_t{8}, &bytes) ||
      __builtin_add_overflow(bytes, kMaxNpyHeaderBytes, &bytes))
    return UINT64_MAX;
  return bytes;
}

std::map<std::string, NpyArray> read_npz_arrays(const std::string& path, const std::vector<NpzArrayRequest>& requests) {
  return with_file_context("npz", path, [&] {
    const Archive archive = open_archive(path);
    std::map<std::string, NpyArray> arrays;
    for (const NpzArrayRequest& request : requests) {
      const std::string bytes = read_member(archive.get(), request);
      try {
        arrays[request.name] = parse_npy(bytes);
      } catch (const Error& error) {
        throw error_with_file_context(error, "array", "'" + request.name + "'");
      }
    }
    return arrays;
  });
}

}  // namespace diffuse
