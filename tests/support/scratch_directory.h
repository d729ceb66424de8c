// A fresh directory for each test, named after the process and the running test (so parallel ctest runs and
// test cases never share one), removed when the test ends; and reading a small text file whole.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace diffuse::testing {

class ScratchDirectory {
 public:
  // TEMP/diffuse-<prefix>-<pid>-<test name>, created empty.
  explicit ScratchDirectory(const std::string& prefix);
  ~ScratchDirectory();
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The path of `name` inside it.
  std::string file(const std::string& name) const;
  // The names it holds, sorted.
  std::vector<std::string> listing() const;

 private:
  std::filesystem::path path_;
};

// The whole file as text ("" when it cannot be read).
std::string read_text_file(const std::string& path);

}  // namespace diffuse::testing
