// The HDF5 file driver that Hdf5File writes files with: plain POSIX I/O, as
// HDF5's default driver, except that a write or a truncate that fails (a full
// disk, a file-size limit, an I/O error) is not returned to HDF5. The driver
// records the first such failure, drops every later write of that file, and
// Hdf5File reports the failure after the HDF5 call.
//
// Why: HDF5 1.10 cannot survive a failing close. When the flush inside H5Fclose
// fails, the library frees the file but keeps its id, and its exit handler
// later closes that id again and crashes (CVE-2020-10812; fixed in HDF5
// 1.14.1). With this driver the flush of a file that could not be written
// succeeds, so closing always releases the file, and the error is still ours
// to report. The file is abandoned anyway: it is the temporary of an
// AtomicFile, never published.
//
// Files are read with HDF5's default driver; both write the same format.
// Every function here is called holding the HDF5 mutex (io/hdf5.cpp).
#pragma once

#include <hdf5.h>

namespace diffuse {

// How writing one file went: the errno of its first failed write, truncate or close, 0 while none failed.
struct WriteStatus {
  int error_number = 0;
};

// A new file access property list (the caller closes it) for creating a file through the driver, which
// records in `status` how writing it went; `status` outlives the file.
hid_t create_write_access(WriteStatus* status);

}  // namespace diffuse
