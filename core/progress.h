// Progress lines of long jobs on stdout, e.g.
//   sampling 128/1000 images  12.3 img/s  ETA 1m11s
// at most every few seconds and once at the end, so that a run of minutes
// shows it is alive and when it will finish.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace diffuse {

// "1m05s" under an hour, "2h03m" from an hour on: the ETAs and durations of progress lines.
std::string format_duration(double seconds);

// Called after each batch with the number of images done so far.
using ProgressCallback = std::function<void(int64_t done)>;

class ProgressLine {
 public:
  // `what` opens the line ("sampling"); `total` images are to be done. Only a line made with `print` prints:
  // in a job over ranks, rank 0's.
  ProgressLine(std::string what, int64_t total, bool print = true, double print_every_seconds = 5.0);

  // Prints the line for `done` images if print_every_seconds have passed since the last one, or all are done.
  void update(int64_t done);

  // For work split over ranks: `done` of this rank's `share` images, scaled to the total. Rank 0's share stands
  // for every rank's (shares differ by at most one image, and ranks run in step).
  void update_share(int64_t done, int64_t share);

  // The line for `done` images after `elapsed_seconds` of work, without the newline.
  std::string line(int64_t done, double elapsed_seconds) const;

 private:
  std::string what_;
  int64_t total_;
  bool print_;
  double print_every_seconds_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace diffuse
