#include "io/event_file_writer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "io/tensorboard_events.h"
#include "io/tfrecord.h"

namespace diffuse {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "events.out.tfevents.";

// The Unix seconds of the newest event file in `directory` (-1 when there is none).
int64_t newest_event_file_seconds(const fs::path& directory) {
  int64_t newest = -1;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    const std::string rest = name.substr(std::strlen(kPrefix));
    const size_t digits = rest.find_first_not_of("0123456789");
    if (digits == 0 || digits == std::string::npos || digits > 18) continue;
    newest = std::max(newest, static_cast<int64_t>(std::stoll(rest.substr(0, digits))));
  }
  return newest;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

double unix_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

EventFileWriter::EventFileWriter(const std::string& directory, int64_t continues_from_step, Clock clock)
    : clock_(std::move(clock)) {
  std::error_code error;
  fs::create_directories(directory, error);
  DIFFUSE_CHECK(!error, "cannot create TensorBoard directory ", directory, ": ", error.message());
  const double now = clock_();
  const int64_t seconds = std::max(static_cast<int64_t>(std::floor(now)), newest_event_file_seconds(directory) + 1);
  char number[24];
  std::snprintf(number, sizeof(number), "%010lld", static_cast<long long>(seconds));
  path_ = (fs::path(directory) / concat(kPrefix, number, ".", host_name())).string();
  file_ = std::fopen(path_.c_str(), "wbx");  // x: an existing file is never overwritten
  DIFFUSE_CHECK(file_ != nullptr, "cannot create ", path_, ": ", std::strerror(errno));
  write_event(tensorboard::file_version_event(now));
  write_event(tensorboard::session_start_event(now, continues_from_step + 1));
}

EventFileWriter::~EventFileWriter() {
  if (file_) std::fclose(file_);
}

void EventFileWriter::write_scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  write_event(tensorboard::scalars_event(clock_(), step, values));
}

void EventFileWriter::write_image(int64_t step, const std::string& tag, const PngImage& image) {
  write_event(tensorboard::image_event(clock_(), step, tag, image));
}

void EventFileWriter::write_event(const std::string& event) {
  const std::string record = tfrecord(event);
  const bool written = std::fwrite(record.data(), 1, record.size(), file_) == record.size() && std::fflush(file_) == 0;
  DIFFUSE_CHECK(written, "cannot write ", path_, ": ", std::strerror(errno));
}

}  // namespace diffuse
