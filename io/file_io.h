// File helpers for the converters: reading a whole input file into memory
// (decompressing it on the way when it is gzipped, as IDX files usually are)
// and creating output directories, with errors that name the path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace diffuse {

// The file's bytes; gzip files are decompressed (detected by content, not by
// name). Throws an Error naming the file when it cannot be opened or read, or
// when a gzip stream is truncated or corrupt.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// Creates `directory` and its parents if missing.
void create_output_directory(const std::string& directory);

}  // namespace diffuse
