#include "io/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "io/hdf5.h"

namespace diffuse {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "ckpt-";
constexpr const char* kSuffix = ".h5";

std::string rate_name(double rate) {
  std::ostringstream text;
  text.precision(17);
  text << rate;
  return text.str();
}

void write_buffer_group(hid_t file, const std::string& group_path, const std::vector<ParameterEntry>& layout,
                        const Tensor& buffer) {
  for (const ParameterEntry& entry : layout)
    write_dataset(file, group_path + "/" + entry.name, entry.shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                  buffer.f32() + entry.offset);
}

void read_buffer_group(hid_t file, const std::string& group_path, const std::vector<ParameterEntry>& layout,
                       const Tensor& buffer) {
  DIFFUSE_CHECK(link_exists(file, group_path), "group ", group_path, " is missing");
  for (const ParameterEntry& entry : layout) {
    const std::string path = group_path + "/" + entry.name;
    DIFFUSE_CHECK(link_exists(file, path), "parameter '", entry.name, "' of this model is not in ", group_path,
                  ": the checkpoint is of another architecture");
    const Hdf5Handle dataset = open_dataset(file, path);
    const Shape stored = dataset_shape(dataset.get());
    DIFFUSE_CHECK(stored == entry.shape, "parameter '", entry.name, "' has shape ", shape_string(entry.shape),
                  " in this model but ", shape_string(stored), " in ", group_path,
                  ": the checkpoint is of another architecture");
    read_dataset(dataset.get(), H5T_NATIVE_FLOAT, buffer.f32() + entry.offset);
  }
}

CheckpointMeta read_meta(hid_t file) {
  CheckpointMeta meta;
  const int64_t version = read_int_attribute(file, "format_version");
  DIFFUSE_CHECK(version == kCheckpointFormatVersion, "format_version ", version, " is not supported (this build reads ",
                kCheckpointFormatVersion, ")");
  meta.step = read_int_attribute(file, "step");
  meta.epoch = read_int_attribute(file, "epoch");
  meta.samples_seen = read_int_attribute(file, "samples_seen");
  meta.world_size = static_cast<int>(read_int_attribute(file, "world_size"));
  meta.loss_scale = read_double_attribute(file, "loss_scale");
  meta.loss_scale_good_steps = read_int_attribute(file, "loss_scale_good_steps");
  meta.seed = read_uint_attribute(file, "seed");
  meta.config_yaml = read_string_attribute(file, "config");
  if (has_attribute(file, "sampling_steps"))
    meta.sampling_steps = static_cast<int>(read_int_attribute(file, "sampling_steps"));
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
  with_file_context("checkpoint", path, [&] {
    const std::string temporary = path + ".tmp";
    {
      std::lock_guard<std::mutex> lock(hdf5_mutex());
      Hdf5Handle file = create_hdf5_file(temporary);
      const hid_t root = file.get();
      write_attribute(root, "format_version", int32_t{kCheckpointFormatVersion});
      write_attribute(root, "step", meta.step);
      write_attribute(root, "epoch", meta.epoch);
      write_attribute(root, "samples_seen", meta.samples_seen);
      write_attribute(root, "world_size", int32_t{meta.world_size});
      write_attribute(root, "loss_scale", meta.loss_scale);
      write_attribute(root, "loss_scale_good_steps", meta.loss_scale_good_steps);
      write_attribute(root, "seed", meta.seed);
      write_attribute(root, "config", meta.config_yaml);
      if (meta.sampling_steps > 0) write_attribute(root, "sampling_steps", int32_t{meta.sampling_steps});
      write_buffer_group(root, "/params", layout, buffers.params);
      for (const auto& [rate, buffer] : buffers.ema) write_buffer_group(root, "/ema/" + rate_name(rate), layout, buffer);
      if (buffers.adam_m.defined()) write_buffer_group(root, "/optimizer/m", layout, buffers.adam_m);
      if (buffers.adam_v.defined()) write_buffer_group(root, "/optimizer/v", layout, buffers.adam_v);
      H5_CHECK(file.close());
    }
    publish_file(temporary, path);
  });
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  return with_file_context("checkpoint", path, [&] {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    const Hdf5Handle file = open_hdf5_file(path);
    return read_meta(file.get());
  });
}

void read_checkpoint(const std::string& path, const std::vector<ParameterEntry>& layout, CheckpointBuffers& buffers) {
  with_file_context("checkpoint", path, [&] {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    const Hdf5Handle file = open_hdf5_file(path);
    read_meta(file.get());  // validates the format version
    if (buffers.params.defined()) read_buffer_group(file.get(), "/params", layout, buffers.params);
    for (auto& [rate, buffer] : buffers.ema) read_buffer_group(file.get(), "/ema/" + rate_name(rate), layout, buffer);
    if (buffers.adam_m.defined()) read_buffer_group(file.get(), "/optimizer/m", layout, buffers.adam_m);
    if (buffers.adam_v.defined()) read_buffer_group(file.get(), "/optimizer/v", layout, buffers.adam_v);
  });
}

std::vector<double> checkpoint_ema_rates(const std::string& path) {
  return with_file_context("checkpoint", path, [&] {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    const Hdf5Handle file = open_hdf5_file(path);
    std::vector<double> rates;
    if (!link_exists(file.get(), "/ema")) return rates;
    for (const std::string& name : link_names(file.get(), "/ema")) rates.push_back(std::stod(name));
    return rates;
  });
}

}  // namespace diffuse
