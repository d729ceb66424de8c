#include "io/tensorboard_events.h"

#include "io/protobuf_wire.h"

namespace diffuse::tensorboard {

namespace {

namespace event_field {
constexpr int kWallTime = 1, kStep = 2, kFileVersion = 3, kSummary = 5, kSessionLog = 7;
}
namespace value_field {
constexpr int kTag = 1, kSimpleValue = 2, kImage = 4;
}
namespace image_field {
constexpr int kHeight = 1, kWidth = 2, kColorspace = 3, kEncodedImageString = 4;
}
constexpr int kSummaryValue = 1;       // Summary.value
constexpr int kSessionStatus = 1;      // SessionLog.status
constexpr uint64_t kSessionStart = 1;  // SessionLog.SessionStatus.START

// An Event's wall time and step, to which its payload is appended.
ProtoMessage event_header(double wall_time, int64_t step) {
  ProtoMessage event;
  if (wall_time != 0.0) event.float64(event_field::kWallTime, wall_time);
  if (step != 0) event.varint(event_field::kStep, static_cast<uint64_t>(step));
  return event;
}

std::string summary_event(double wall_time, int64_t step, const std::vector<ProtoMessage>& values) {
  ProtoMessage summary;
  for (const ProtoMessage& value : values) summary.bytes(kSummaryValue, value.encoded());
  return event_header(wall_time, step).bytes(event_field::kSummary, summary.encoded()).encoded();
}

}  // namespace

std::string file_version_event(double wall_time) {
  return event_header(wall_time, 0).bytes(event_field::kFileVersion, "brain.Event:2").encoded();
}

std::string session_start_event(double wall_time, int64_t step) {
  const std::string session_log = ProtoMessage().varint(kSessionStatus, kSessionStart).encoded();
  return event_header(wall_time, step).bytes(event_field::kSessionLog, session_log).encoded();
}

std::string scalars_event(double wall_time, int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  std::vector<ProtoMessage> summary_values;
  for (const auto& [tag, value] : values) {
    ProtoMessage& summary_value = summary_values.emplace_back();
    if (!tag.empty()) summary_value.bytes(value_field::kTag, tag);
    summary_value.float32(value_field::kSimpleValue, static_cast<float>(value));
  }
  return summary_event(wall_time, step, summary_values);
}

std::string image_event(double wall_time, int64_t step, const std::string& tag, const PngImage& image) {
  ProtoMessage encoded_image;
  if (image.height != 0) encoded_image.varint(image_field::kHeight, static_cast<uint64_t>(image.height));
  if (image.width != 0) encoded_image.varint(image_field::kWidth, static_cast<uint64_t>(image.width));
  if (image.channels != 0) encoded_image.varint(image_field::kColorspace, static_cast<uint64_t>(image.channels));
  if (!image.bytes.empty()) encoded_image.bytes(image_field::kEncodedImageString, image.bytes);
  ProtoMessage value;
  if (!tag.empty()) value.bytes(value_field::kTag, tag);
  value.bytes(value_field::kImage, encoded_image.encoded());
  return summary_event(wall_time, step, {value});
}

}  // namespace diffuse::tensorboard
