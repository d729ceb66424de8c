#include "io/output_path.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"

namespace diffuse {

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) text += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return text;
}

}  // namespace

std::string check_output_path(const std::string& path, const std::string& flag,
                              const std::vector<std::string>& extensions) {
  const auto extension = std::find_if(extensions.begin(), extensions.end(),
                                      [&](const std::string& suffix) { return ends_with(path, suffix); });
  DIFFUSE_CHECK(extensions.empty() || extension != extensions.end(), flag, " ", path, ": the file must end in ",
                joined(extensions));
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::filesystem::path directory = parent.empty() ? std::filesystem::path(".") : parent;
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(directory, error);
  DIFFUSE_CHECK(std::filesystem::is_directory(status), flag, " ", path, ": directory ", directory.string(),
                status.type() == std::filesystem::file_type::not_found ? " does not exist"
                : error                                                ? " cannot be looked at: " + error.message()
                                                                       : " is not a directory");
  DIFFUSE_CHECK(::access(directory.c_str(), W_OK | X_OK) == 0, flag, " ", path, ": directory ", directory.string(),
                " is not writable");
  return extension == extensions.end() ? std::string() : *extension;
}

}  // namespace diffuse
