// Whole-file reads through zlib's gz* interface, which passes plain files
// through unchanged, and directory creation.
#include "io/file_io.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/error.h"

namespace diffuse {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  struct stat status;
  DIFFUSE_CHECK(::stat(path.c_str(), &status) == 0, "cannot read ", path, ": ", std::strerror(errno));
  DIFFUSE_CHECK(S_ISREG(status.st_mode), "cannot read ", path, ": not a regular file");
  gzFile file = gzopen(path.c_str(), "rb");
  DIFFUSE_CHECK(file != nullptr, "cannot open ", path, ": ", std::strerror(errno));
  gzbuffer(file, 1 << 20);

  std::vector<uint8_t> bytes;
  // Start from the file size; decompression grows it as needed.
  bytes.resize(static_cast<size_t>(status.st_size) + 1);
  size_t filled = 0;
  for (;;) {
    if (filled == bytes.size()) bytes.resize(bytes.size() * 2);
    const unsigned request = static_cast<unsigned>(std::min<size_t>(bytes.size() - filled, 1u << 30));
    const int got = gzread(file, bytes.data() + filled, request);
    if (got <= 0) break;
    filled += static_cast<size_t>(got);
  }
  int error_code = Z_OK;
  const std::string error_text = gzerror(file, &error_code);
  gzclose(file);
  DIFFUSE_CHECK(error_code == Z_OK, "cannot read ", path, ": ",
                error_code == Z_BUF_ERROR ? "the compressed stream is truncated" : error_text);
  bytes.resize(filled);
  return bytes;
}

void create_output_directory(const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  DIFFUSE_CHECK(!error, "cannot create output directory ", directory, ": ", error.message());
}

}  // namespace diffuse
