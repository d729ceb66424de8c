// Publishing a file atomically: it is written under a temporary name in the
// same directory ("<path>.tmp"), fsynced, renamed over `path`, and the
// directory fsynced, so a reader, or the filesystem after a crash, holds
// either the old file or the complete new one under `path`, never a part.
// Every file diffuse writes whole goes this way: checkpoints, datasets,
// feature files, reference statistics, reports and PNG grids.
#pragma once

#include <cstddef>
#include <string>

namespace diffuse {

// One file being written under its temporary name, to be published.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();  // removes the temporary file unless published
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;

  const std::string& path() const { return path_; }
  // Where to write the contents: "<path>.tmp".
  const std::string& temporary_path() const { return temporary_path_; }

  // Makes the written and closed temporary file the file `path`. On failure the
  // temporary is removed, any old `path` is left as it was, and the Error names `path`.
  void publish();

 private:
  std::string path_;
  std::string temporary_path_;
  bool pending_ = true;  // the temporary may exist and is ours to remove
};

// Writes `size` bytes at `data` as the file `path`, atomically.
void write_file_atomically(const std::string& path, const void* data, size_t size);
inline void write_file_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, text.data(), text.size());
}

}  // namespace diffuse
