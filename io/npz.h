// numpy's .npz files (numpy.savez, savez_compressed): a zip archive of .npy
// files, one per array ("mu.npy"). The archive is read with libzip; each .npy
// (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html) is
// the magic "\x93NUMPY", a version (1.0, 2.0 or 3.0), a header length
// (2 bytes in 1.0, 4 after), a Python dict literal
//   {'descr': '<f8', 'fortran_order': False, 'shape': (2048, 2048), }
// and the raw elements. Little-endian float32 and float64 arrays in C order are
// read; anything else is an Error naming the file and the array.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace diffuse {

struct NpyArray {
  Shape shape;
  std::vector<double> values;  // row-major, converted to double
};

// Parses one .npy file's bytes; errors describe the problem without naming a file.
NpyArray parse_npy(const std::string& bytes);

// One array to read from an .npz: its name (without ".npy") and the most bytes its .npy may take, header included.
// An archive's entry sizes are its own claims: one above max_bytes is refused before anything is allocated.
struct NpzArrayRequest {
  std::string name;
  uint64_t max_bytes = 0;
};

// The most bytes a .npy of `elements` float64 (or float32) values takes: the elements and the largest header
// (version 1.0's, 10 + 65535 bytes; numpy writes later versions only for headers that do not fit it).
uint64_t npy_max_bytes(uint64_t elements);

// The arrays `requests` of the .npz `path`. A missing, truncated or non-zip file, a missing array, one larger
// than its max_bytes or an unreadable one is an Error "npz <path>: ..." that names the array.
std::map<std::string, NpyArray> read_npz_arrays(const std::string& path, const std::vector<NpzArrayRequest>& requests);

}  // namespace diffuse
