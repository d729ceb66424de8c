// The write driver: POSIX I/O through HDF5's virtual file layer, with failed writes recorded, not returned.
//
// The callbacks run inside HDF5's C code: they neither throw nor allocate, and open() is the only one that
// fails (HDF5 survives a failing open; see the header for why the others must not fail).
#include "io/hdf5_write_driver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <new>
#include <type_traits>

#include "core/error.h"
#include "io/checks_hdf5.h"

namespace diffuse {

namespace {

// The largest address a file can have: the largest off_t.
constexpr haddr_t kMaxAddress = (haddr_t{1} << (8 * sizeof(off_t) - 1)) - 1;

// What create_write_access() gives the driver for open(), through the property list.
struct DriverInfo {
  WriteStatus* status;
};

// One open file. HDF5 sees only `base`, the first member, so its H5FD_t* is this file's address.
struct DriverFile {
  H5FD_t base;
  int descriptor;
  dev_t device;
  ino_t inode;
  haddr_t allocated_end;  // the end of the space HDF5 has allocated in the file (its "eoa")
  haddr_t written_end;    // the end of the file as written (its "eof")
  WriteStatus* status;
};
static_assert(std::is_standard_layout_v<DriverFile>, "HDF5's H5FD_t* must point at the DriverFile");

DriverFile& file_of(H5FD_t* file) { return *reinterpret_cast<DriverFile*>(file); }
const DriverFile& file_of(const H5FD_t* file) { return *reinterpret_cast<const DriverFile*>(file); }

bool has_failed(const DriverFile& file) { return file.status->error_number != 0; }
void record_failure(DriverFile& file, int error_number) {
  if (!has_failed(file)) file.status->error_number = error_number;
}

bool in_range(haddr_t address, size_t size) {
  return address != HADDR_UNDEF && address <= kMaxAddress && size <= kMaxAddress - address;
}

H5FD_t* open_file(const char* name, unsigned flags, hid_t access, haddr_t max_address) {
  const auto* info = static_cast<const DriverInfo*>(H5Pget_driver_info(access));
  if (info == nullptr || max_address == 0 || max_address == HADDR_UNDEF || max_address > kMaxAddress) {
    H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_BADVALUE,
             "invalid arguments to open %s", name);
    return nullptr;
  }
  int open_flags = O_CLOEXEC | ((flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY);
  if (flags & H5F_ACC_TRUNC) open_flags |= O_TRUNC;
  if (flags & H5F_ACC_CREAT) open_flags |= O_CREAT;
  if (flags & H5F_ACC_EXCL) open_flags |= O_EXCL;
  const int descriptor = ::open(name, open_flags, 0666);
  struct stat status;
  if (descriptor < 0 || ::fstat(descriptor, &status) != 0) {
    const int error_number = errno;
    if (descriptor >= 0) ::close(descriptor);
    H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_CANTOPENFILE, "cannot open %s: %s",
             name, std::strerror(error_number));
    return nullptr;
  }
  auto* file = new (std::nothrow) DriverFile{};
  if (file == nullptr) {
    ::close(descriptor);
    H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_CANTALLOC, "out of memory");
    return nullptr;
  }
  file->descriptor = descriptor;
  file->device = status.st_dev;
  file->inode = status.st_ino;
  file->written_end = static_cast<haddr_t>(status.st_size);
  file->status = info->status;
  return &file->base;
}

herr_t close_file(H5FD_t* handle) {
  DriverFile* file = &file_of(handle);
  // Some filesystems (NFS) report a failed write-back only here.
  if (::close(file->descriptor) != 0) record_failure(*file, errno);
  delete file;
  return 0;
}

// Orders files by device and inode, as HDF5's default driver does, so that HDF5 recognizes one file opened twice.
int compare_files(const H5FD_t* first, const H5FD_t* second) {
  const DriverFile &a = file_of(first), &b = file_of(second);
  if (a.device != b.device) return a.device < b.device ? -1 : 1;
  if (a.inode != b.inode) return a.inode < b.inode ? -1 : 1;
  return 0;
}

// The default driver's optimizations: metadata gathered into larger blocks and writes, sieve buffers for raw data.
herr_t query_features(const H5FD_t*, unsigned long* flags) {
  *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
           H5FD_FEAT_AGGREGATE_SMALLDATA;
  return 0;
}

haddr_t allocated_end(const H5FD_t* file, H5FD_mem_t) { return file_of(file).allocated_end; }

herr_t set_allocated_end(H5FD_t* file, H5FD_mem_t, haddr_t end) {
  file_of(file).allocated_end = end;
  return 0;
}

haddr_t written_end(const H5FD_t* file, H5FD_mem_t) { return file_of(file).written_end; }

herr_t read_file(H5FD_t* handle, H5FD_mem_t, hid_t, haddr_t address, size_t size, void* buffer) {
  const DriverFile& file = file_of(handle);
  if (!in_range(address, size)) {
    H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_OVERFLOW, "read beyond %llu",
             static_cast<unsigned long long>(kMaxAddress));
    return -1;
  }
  auto* bytes = static_cast<char*>(buffer);
  while (size > 0) {
    const ssize_t count = ::pread(file.descriptor, bytes, size, static_cast<off_t>(address));
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_READERROR, "read failed: %s",
               std::strerror(errno));
      return -1;
    }
    if (count == 0) {  // past the end of the file, which reads as zeros
      std::memset(bytes, 0, size);
      break;
    }
    bytes += count;
    address += static_cast<haddr_t>(count);
    size -= static_cast<size_t>(count);
  }
  return 0;
}

// Once one write has failed the file is lost, and the rest are not attempted.
herr_t write_file(H5FD_t* handle, H5FD_mem_t, hid_t, haddr_t address, size_t size, const void* buffer) {
  DriverFile& file = file_of(handle);
  if (has_failed(file)) return 0;
  if (!in_range(address, size)) {
    record_failure(file, EFBIG);
    return 0;
  }
  const auto* bytes = static_cast<const char*>(buffer);
  while (size > 0) {
    const ssize_t count = ::pwrite(file.descriptor, bytes, size, static_cast<off_t>(address));
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      record_failure(file, count < 0 ? errno : EIO);
      return 0;
    }
    bytes += count;
    address += static_cast<haddr_t>(count);
    size -= static_cast<size_t>(count);
  }
  file.written_end = std::max(file.written_end, address);
  return 0;
}

// Makes the file as long as the space HDF5 allocated (HDF5 checks this when it opens the file).
herr_t truncate_file(H5FD_t* handle, hid_t, hbool_t) {
  DriverFile& file = file_of(handle);
  if (has_failed(file) || file.allocated_end == file.written_end) return 0;
  if (::ftruncate(file.descriptor, static_cast<off_t>(file.allocated_end)) != 0)
    record_failure(file, errno);
  else
    file.written_end = file.allocated_end;
  return 0;
}

hid_t register_driver() {
  H5FD_class_t driver{};
#ifdef H5FD_CLASS_VERSION  // HDF5 1.14 versions the class and numbers each driver
  driver.version = H5FD_CLASS_VERSION;
  driver.value = 511;  // from the values HDF5 leaves to unregistered drivers (256 to 511)
#endif
  driver.name = "diffuse_write";
  driver.maxaddr = kMaxAddress;
  driver.fc_degree = H5F_CLOSE_STRONG;  // closing the file closes anything left open in it
  driver.fapl_size = sizeof(DriverInfo);
  driver.open = open_file;
  driver.close = close_file;
  driver.cmp = compare_files;
  driver.query = query_features;
  driver.get_eoa = allocated_end;
  driver.set_eoa = set_allocated_end;
  driver.get_eof = written_end;
  driver.read = read_file;
  driver.write = write_file;
  driver.truncate = truncate_file;
  const H5FD_mem_t free_list_map[H5FD_MEM_NTYPES] = H5FD_FLMAP_DICHOTOMY;  // as the default driver
  std::copy(std::begin(free_list_map), std::end(free_list_map), driver.fl_map);
  return H5FDregister(&driver);
}

}  // namespace

hid_t create_write_access(WriteStatus* status) {
  static const hid_t driver = register_driver();
  H5_CHECK(driver);
  hid_t access;
  H5_CHECK(access = H5Pcreate(H5P_FILE_ACCESS));
  const DriverInfo info{status};
  try {
    H5_CHECK(H5Pset_driver(access, driver, &info));
  } catch (const Error&) {
    H5Pclose(access);
    throw;
  }
  return access;
}

}  // namespace diffuse
