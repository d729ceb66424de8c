#include "io/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "io/file_context.h"
#include "io/hdf5.h"

namespace diffuse {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "ckpt-";
constexpr const char* kSuffix = ".h5";
constexpr const char* kWhat = "checkpoint";  // names the file in errors

std::string rate_name(double rate) {
  std::ostringstream text;
  text.precision(17);
  text << rate;
  return text.str();
}

void write_buffer_group(Hdf5File& file, const std::string& group_path, const std::vector<ParameterEntry>& layout,
                        const Tensor& buffer) {
  for (const ParameterEntry& entry : layout)
    file.write(group_path + "/" + entry.name, entry.shape, buffer.f32() + entry.offset);
}

void read_buffer_group(const Hdf5File& file, const std::string& group_path, const std::vector<ParameterEntry>& layout,
                       const Tensor& buffer) {
  DIFFUSE_CHECK(file.exists(group_path), "group ", group_path, " is missing");
  for (const ParameterEntry& entry : layout) {
    const std::string path = group_path + "/" + entry.name;
    DIFFUSE_CHECK(file.exists(path), "parameter '", entry.name, "' of this model is not in ", group_path,
                  ": the checkpoint is of another architecture");
    const Shape stored = file.dataset_shape(path);
    DIFFUSE_CHECK(stored == entry.shape, "parameter '", entry.name, "' has shape ", shape_string(entry.shape),
                  " in this model but ", shape_string(stored), " in ", group_path,
                  ": the checkpoint is of another architecture");
    file.read(path, buffer.f32() + entry.offset);
  }
}

CheckpointMeta read_meta(const Hdf5File& file) {
  CheckpointMeta meta;
  const int64_t version = file.int_attribute("format_version");
  DIFFUSE_CHECK(version == kCheckpointFormatVersion, "format_version ", version, " is not supported (this build reads ",
                kCheckpointFormatVersion, ")");
  meta.step = file.int_attribute("step");
  meta.epoch = file.int_attribute("epoch");
  meta.samples_seen = file.int_attribute("samples_seen");
  meta.world_size = static_cast<int>(file.int_attribute("world_size"));
  meta.loss_scale = file.double_attribute("loss_scale");
  meta.loss_scale_good_steps = file.int_attribute("loss_scale_good_steps");
  meta.seed = file.uint_attribute("seed");
  meta.config_yaml = file.string_attribute("config");
  if (file.has_attribute("sampling_steps"))
    meta.sampling_steps = static_cast<int>(file.int_attribute("sampling_steps"));
  if (file.has_attribute("window_steps")) {  // absent from checkpoints older than the attribute: no open window
    meta.window_steps = file.int_attribute("window_steps");
    meta.window_loss_sum = file.double_attribute("window_loss_sum");
  }
  return meta;
}

}  // namespace

std::string checkpoint_path(const std::string& run_dir, int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "%s%08lld%s", kPrefix, static_cast<long long>(step), kSuffix);
  return (fs::path(run_dir) / "checkpoints" / name).string();
}

namespace {
// Complete checkpoints of a run, oldest first (temporaries end in .tmp and are ignored).
std::vector<fs::path> list_checkpoints(const std::string& run_dir) {
  std::vector<fs::path> found;
  const fs::path directory = fs::path(run_dir) / "checkpoints";
  std::error_code error;
  if (!fs::is_directory(directory, error)) return found;
  for (const auto& entry : fs::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) == 0 && name.size() > std::strlen(kSuffix) &&
        name.compare(name.size() - std::strlen(kSuffix), std::strlen(kSuffix), kSuffix) == 0)
      found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());  // zero-padded steps sort by name
  return found;
}
}  // namespace

std::string newest_checkpoint(const std::string& run_dir) {
  const std::vector<fs::path> found = list_checkpoints(run_dir);
  return found.empty() ? std::string() : found.back().string();
}

void prune_checkpoints(const std::string& run_dir, int keep) {
  const std::vector<fs::path> found = list_checkpoints(run_dir);
  for (size_t i = 0; i + static_cast<size_t>(keep) < found.size(); ++i) fs::remove(found[i]);
}

void write_checkpoint(const std::string& path, const std::vector<ParameterEntry>& layout, const CheckpointMeta& meta,
                      const CheckpointBuffers& buffers) {
  Hdf5File file = Hdf5File::create(path, kWhat);
  file.set_attribute("format_version", int32_t{kCheckpointFormatVersion});
  file.set_attribute("step", meta.step);
  file.set_attribute("epoch", meta.epoch);
  file.set_attribute("samples_seen", meta.samples_seen);
  file.set_attribute("world_size", int32_t{meta.world_size});
  file.set_attribute("loss_scale", meta.loss_scale);
  file.set_attribute("loss_scale_good_steps", meta.loss_scale_good_steps);
  file.set_attribute("seed", meta.seed);
  file.set_attribute("config", meta.config_yaml);
  if (meta.sampling_steps > 0) file.set_attribute("sampling_steps", int32_t{meta.sampling_steps});
  file.set_attribute("window_steps", meta.window_steps);
  file.set_attribute("window_loss_sum", meta.window_loss_sum);
  write_buffer_group(file, "/params", layout, buffers.params);
  for (const auto& [rate, buffer] : buffers.ema) write_buffer_group(file, "/ema/" + rate_name(rate), layout, buffer);
  if (buffers.adam_m.defined()) write_buffer_group(file, "/optimizer/m", layout, buffers.adam_m);
  if (buffers.adam_v.defined()) write_buffer_group(file, "/optimizer/v", layout, buffers.adam_v);
  file.commit();
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  const Hdf5File file = Hdf5File::open(path, kWhat);
  return with_file_context(kWhat, path, [&] { return read_meta(file); });
}

void read_checkpoint(const std::string& path, const std::vector<ParameterEntry>& layout, CheckpointBuffers& buffers) {
  const Hdf5File file = Hdf5File::open(path, kWhat);
  with_file_context(kWhat, path, [&] {
    read_meta(file);  // validates the format version
    if (buffers.params.defined()) read_buffer_group(file, "/params", layout, buffers.params);
    for (auto& [rate, buffer] : buffers.ema) read_buffer_group(file, "/ema/" + rate_name(rate), layout, buffer);
    if (buffers.adam_m.defined()) read_buffer_group(file, "/optimizer/m", layout, buffers.adam_m);
    if (buffers.adam_v.defined()) read_buffer_group(file, "/optimizer/v", layout, buffers.adam_v);
  });
}

std::vector<double> checkpoint_ema_rates(const std::string& path) {
  const Hdf5File file = Hdf5File::open(path, kWhat);
  std::vector<double> rates;
  if (!file.exists("/ema")) return rates;
  for (const std::string& name : file.names_in("/ema")) rates.push_back(std::stod(name));
  return rates;
}

}  // namespace diffuse
