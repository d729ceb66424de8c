// Temporary name, fsync, rename, fsync of the directory.
#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "io/file_context.h"

namespace diffuse {

namespace {

// The errno text of a failed system call, for messages.
std::string system_error_text() { return std::strerror(errno); }

void fsync_path(const std::string& path, int flags) {
  const int descriptor = ::open(path.c_str(), flags);
  DIFFUSE_CHECK(descriptor >= 0, "cannot open ", path, " to fsync it: ", system_error_text());
  const int status = ::fsync(descriptor);
  const std::string fsync_error = status == 0 ? "" : system_error_text();
  ::close(descriptor);
  DIFFUSE_CHECK(status == 0, "fsync of ", path, " failed: ", fsync_error);
}

void write_all(int descriptor, const char* bytes, size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(descriptor, bytes, size);
    if (written < 0 && errno == EINTR) continue;
    DIFFUSE_CHECK(written > 0, "write failed: ", written < 0 ? system_error_text() : "no progress");
    bytes += written;
    size -= static_cast<size_t>(written);
  }
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path), temporary_path_(path + ".tmp") {}

AtomicFile::~AtomicFile() {
  if (pending_) std::remove(temporary_path_.c_str());
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)), temporary_path_(std::move(other.temporary_path_)), pending_(other.pending_) {
  other.pending_ = false;
}

void AtomicFile::publish() {
  with_file_context("cannot write", path_, [&] {
    DIFFUSE_CHECK(pending_, "it was already published");
    pending_ = false;
    try {
      fsync_path(temporary_path_, O_RDONLY);
      std::error_code error;
      std::filesystem::rename(temporary_path_, path_, error);
      DIFFUSE_CHECK(!error, "cannot rename ", temporary_path_, " to ", path_, ": ", error.message());
    } catch (const Error&) {
      std::remove(temporary_path_.c_str());
      throw;
    }
    // Makes the rename itself durable.
    const std::filesystem::path directory = std::filesystem::path(path_).parent_path();
    fsync_path(directory.empty() ? "." : directory.string(), O_RDONLY | O_DIRECTORY);
  });
}

void write_file_atomically(const std::string& path, const void* data, size_t size) {
  AtomicFile file(path);
  with_file_context("cannot write", path, [&] {
    const int descriptor = ::open(file.temporary_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    DIFFUSE_CHECK(descriptor >= 0, "cannot create ", file.temporary_path(), ": ", system_error_text());
    try {
      write_all(descriptor, static_cast<const char*>(data), size);
    } catch (const Error&) {
      ::close(descriptor);
      throw;
    }
    DIFFUSE_CHECK(::close(descriptor) == 0, "closing ", file.temporary_path(), " failed: ", system_error_text());
  });
  file.publish();
}

}  // namespace diffuse
