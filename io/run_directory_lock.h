// One process at a time per run directory: two runs writing checkpoints,
// metrics and config.yaml into one directory would silently overwrite each
// other. The lock is an exclusive flock on RUN/.lock (a hidden file holding the
// holder's pid, for the error message). The kernel drops it when the holder
// exits, however it exits (kill -9 included), so a stale file never blocks a
// later run, and the file is left in place: unlinking it would let a third
// process lock a new file while a second still holds the old one.
#pragma once

#include <string>

namespace diffuse {

class RunDirectoryLock {
 public:
  // Creates `run_dir` when needed and locks it without waiting: an Error when another process holds it
  // ("run directory X is in use by another diffuse process (pid N)") or it cannot be created.
  explicit RunDirectoryLock(const std::string& run_dir);
  ~RunDirectoryLock();  // releases the lock
  RunDirectoryLock(const RunDirectoryLock&) = delete;
  RunDirectoryLock& operator=(const RunDirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace diffuse
