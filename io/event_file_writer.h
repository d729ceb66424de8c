// A TensorBoard event file (`tensorboard --logdir DIRECTORY` reads every
// *tfevents* file of a directory as one run): TFRecords (io/tfrecord.h) of
// Event protobufs (io/tensorboard_events.h), appended and flushed one by one,
// so that TensorBoard shows a run as it trains and a crash loses at most the
// record being written.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "io/image_grid.h"

namespace diffuse {

// Seconds since the Unix epoch, now.
double unix_time_now();

class EventFileWriter {
 public:
  using Clock = std::function<double()>;  // the wall time of each event, in seconds since the Unix epoch

  // Starts a new file in `directory` (created if missing) and leaves the files already there as they are. It is
  // named events.out.tfevents.<10-digit Unix seconds>.<host name>, the seconds later than those of every event file
  // there: TensorBoard reads a directory's files in name order, so this one comes last. It begins with the file
  // version and a SessionLog START at continues_from_step + 1, so that TensorBoard discards what earlier files
  // logged after continues_from_step, the steps a resumed run logs again.
  EventFileWriter(const std::string& directory, int64_t continues_from_step, Clock clock = unix_time_now);
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  const std::string& path() const { return path_; }

  // Each writes one event and flushes; a failed write is an error naming the file.
  void write_scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values);
  void write_image(int64_t step, const std::string& tag, const PngImage& image);

 private:
  void write_event(const std::string& event);

  Clock clock_;
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace diffuse
