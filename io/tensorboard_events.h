// The TensorBoard events diffuse writes, as serialized `Event` protobufs (tensorboard/compat/proto/event.proto
// and summary.proto), encoded by hand (io/protobuf_wire.h). The fields used:
//   Event       wall_time = 1 (double), step = 2 (int64), file_version = 3 (string), summary = 5 (Summary),
//               session_log = 7 (SessionLog)
//   Summary     value = 1 (repeated Value)
//   Value       tag = 1 (string), simple_value = 2 (float), image = 4 (Image)
//   Image       height = 1, width = 2, colorspace = 3 (int32: 1 gray, 3 RGB), encoded_image_string = 4 (bytes)
//   SessionLog  status = 1 (enum: START = 1)
// As proto3 serializes them: fields at their default (0, "") are left out, except the members of a oneof
// (Event's payload, Value's simple_value and image), which are written whenever they are set.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/image_grid.h"

namespace diffuse::tensorboard {

// The first event of every file: file_version "brain.Event:2", which tells TensorBoard to honour SessionLog START.
std::string file_version_event(double wall_time);

// SessionLog START at `step`: on reading it, TensorBoard discards what earlier files hold for steps >= `step`.
std::string session_start_event(double wall_time, int64_t step);

// One simple_value (float) per (tag, value).
std::string scalars_event(double wall_time, int64_t step, const std::vector<std::pair<std::string, double>>& values);

// An image summary holding the PNG as it is.
std::string image_event(double wall_time, int64_t step, const std::string& tag, const PngImage& image);

}  // namespace diffuse::tensorboard
