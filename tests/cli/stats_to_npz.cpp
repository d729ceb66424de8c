// For tests/cli/test_ref_stats.sh: the /mu and /sigma of cached reference statistics
// (eval/reference_features.h) written as an .npz of float64 .npy arrays, as numpy.savez writes them, so
// that `eval --ref-stats` can be checked against `eval --ref` on the same reference set.
// Usage: stats_to_npz STATS.h5 OUT.npz
#include <zip.h>

#include <cstdio>
#include <string>
#include <vector>

#include "io/hdf5.h"

namespace {

// One .npy file, format version 1.0: magic, version, header length, the dict padded to a multiple of 64 bytes.
std::string npy_bytes(const diffuse::Shape& shape, const std::vector<double>& values) {
  std::string dims;
  for (const int64_t dim : shape) dims += std::to_string(dim) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  if (shape.size() == 1) dims.resize(dims.size() - 1);
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + dims + "), }";
  const size_t prefix = 10;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY\x01";
  bytes += '\0';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: stats_to_npz STATS.h5 OUT.npz\n");
    return 2;
  }
  try {
    const diffuse::Hdf5File stats = diffuse::Hdf5File::open(argv[1]);
    std::vector<std::string> members;  // libzip reads the buffers when the archive is closed
    for (const char* name : {"mu", "sigma"})
      members.push_back(
          npy_bytes(stats.dataset_shape(std::string("/") + name), stats.read_doubles(std::string("/") + name)));
    int code = 0;
    zip_t* archive = zip_open(argv[2], ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (!archive) throw diffuse::Error(std::string("cannot create ") + argv[2]);
    const char* names[] = {"mu.npy", "sigma.npy"};
    for (size_t i = 0; i < members.size(); ++i) {
      zip_source_t* source = zip_source_buffer(archive, members[i].data(), members[i].size(), 0);
      if (!source || zip_file_add(archive, names[i], source, ZIP_FL_OVERWRITE) < 0)
        throw diffuse::Error(std::string("cannot add ") + names[i] + ": " + zip_strerror(archive));
    }
    if (zip_close(archive) != 0)
      throw diffuse::Error(std::string("cannot write ") + argv[2] + ": " + zip_strerror(archive));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
