// Image folders (one subfolder per class) to a dataset file.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "data/convert.h"
#include "data/image.h"

namespace diffuse {

namespace {

namespace fs = std::filesystem;

bool is_image_name(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg";
}

std::vector<fs::path> sorted_entries(const fs::path& directory, bool directories) {
  std::vector<fs::path> entries;
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    if (directories ? it->is_directory() : (it->is_regular_file() && is_image_name(it->path()))) {
      entries.push_back(it->path());
    }
  }
  DIFFUSE_CHECK(!error, "cannot list ", directory.string(), ": ", error.message());
  std::sort(entries.begin(), entries.end());
  return entries;
}

struct LabelledFile {
  std::string path;
  int32_t label;
};

}  // namespace

ConvertedFile convert_folder(const std::string& source_directory, int size, const std::string& output_path,
                             Overwrite overwrite) {
  DIFFUSE_CHECK(size > 0, "--size must be positive, got ", size);
  check_can_write(output_path, overwrite);
  DIFFUSE_CHECK(fs::is_directory(source_directory), "image folder ", source_directory, " is not a directory");
  const std::vector<fs::path> classes = sorted_entries(source_directory, true);
  DIFFUSE_CHECK(!classes.empty(), "image folder ", source_directory, " has no class subfolders");
  std::vector<LabelledFile> files;
  for (size_t label = 0; label < classes.size(); ++label) {
    const std::vector<fs::path> images = sorted_entries(classes[label], false);
    if (images.empty()) log_warning("class folder ", classes[label].string(), " has no PNG or JPEG files");
    for (const fs::path& image : images) files.push_back(LabelledFile{image.string(), static_cast<int32_t>(label)});
  }
  DIFFUSE_CHECK(!files.empty(), "image folder ", source_directory, " has no PNG or JPEG files in its class subfolders");

  // The first image decides gray or RGB; it is decoded again in the loop, which keeps the loop simple.
  DatasetInfo info;
  info.count = static_cast<int64_t>(files.size());
  info.height = info.width = size;
  info.channels = decode_image(files.front().path).channels;
  info.num_classes = static_cast<int64_t>(classes.size());
  info.has_labels = true;
  info.source = concat("image folder ", source_directory, ", ", classes.size(),
                       " classes, centre-cropped and resized to ", size, "x", size);
  DatasetWriter writer(output_path, info, overwrite);
  for (const LabelledFile& file : files) {
    const Image image = convert_channels(crop_and_resize(decode_image(file.path), size), info.channels);
    writer.append(image.pixels.data(), &file.label, 1);
  }
  writer.commit();
  return ConvertedFile{output_path, info};
}

}  // namespace diffuse
