#include "io/run_directory_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/error.h"

namespace diffuse {

namespace fs = std::filesystem;

namespace {

// The pid the holder wrote into the lock file, or "" when it has not yet written one.
std::string holder_pid(int fd) {
  char text[32] = {};
  const ssize_t read = ::pread(fd, text, sizeof(text) - 1, 0);
  std::string pid = read > 0 ? std::string(text, static_cast<size_t>(read)) : std::string();
  pid.erase(pid.find_last_not_of("\n") + 1);
  return pid;
}

}  // namespace

RunDirectoryLock::RunDirectoryLock(const std::string& run_dir) {
  std::error_code error;
  fs::create_directories(run_dir, error);
  DIFFUSE_CHECK(!error, "cannot create run directory ", run_dir, ": ", error.message());
  const std::string path = (fs::path(run_dir) / ".lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  DIFFUSE_CHECK(fd_ >= 0, "cannot open the lock file ", path, ": ", std::strerror(errno));
  std::string failure;
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      const std::string pid = holder_pid(fd_);
      failure = concat("run directory ", run_dir, " is in use by another diffuse process",
                       pid.empty() ? std::string() : concat(" (pid ", pid, ")"),
                       ": wait for it to end, or choose another --run-dir");
    } else {
      failure = concat("cannot lock ", path, ": ", std::strerror(errno));
    }
  } else {
    // The pid is only for the message above: the lock itself is the flock.
    const std::string pid = concat(::getpid(), "\n");
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
      failure = concat("cannot write the lock file ", path, ": ", std::strerror(errno));
  }
  if (!failure.empty()) ::close(fd_);
  DIFFUSE_CHECK(failure.empty(), failure);
}

RunDirectoryLock::~RunDirectoryLock() { ::close(fd_); }

}  // namespace diffuse
