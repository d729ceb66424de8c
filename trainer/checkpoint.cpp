#include "trainer/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/checks_hdf5.h"
#include "data/file_error.h"
#include "data/hdf5_lock.h"

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

void write_scalar_attribute(hid_t target, const char* name, hid_t file_type, hid_t memory_type, const void* value) {
  Hdf5Handle space;
  hid_t id;
  H5_CHECK(id = H5Screate(H5S_SCALAR));
  space = Hdf5Handle(id, H5Sclose);
  H5_CHECK(id = H5Acreate2(target, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  Hdf5Handle attribute(id, H5Aclose);
  H5_CHECK(H5Awrite(attribute.get(), memory_type, value));
}

void write_string_attribute(hid_t target, const char* name, const std::string& value) {
  hid_t id;
  H5_CHECK(id = H5Tcopy(H5T_C_S1));
  Hdf5Handle type(id, H5Tclose);
  H5_CHECK(H5Tset_size(type.get(), H5T_VARIABLE));
  H5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8));
  const char* text = value.c_str();
  write_scalar_attribute(target, name, type.get(), type.get(), &text);
}

bool has_attribute(hid_t target, const char* name) {
  htri_t exists;
  H5_CHECK(exists = H5Aexists(target, name));
  return exists > 0;
}

template <typename T>
T read_scalar_attribute(hid_t target, const char* name, hid_t memory_type) {
  DIFFUSE_CHECK(has_attribute(target, name), "attribute '", name, "' is missing");
  hid_t id;
  H5_CHECK(id = H5Aopen(target, name, H5P_DEFAULT));
  Hdf5Handle attribute(id, H5Aclose);
  T value{};
  H5_CHECK(H5Aread(attribute.get(), memory_type, &value));
  return value;
}

std::string read_string_attribute(hid_t target, const char* name) {
  DIFFUSE_CHECK(has_attribute(target, name), "attribute '", name, "' is missing");
  hid_t id;
  H5_CHECK(id = H5Aopen(target, name, H5P_DEFAULT));
  Hdf5Handle attribute(id, H5Aclose);
  H5_CHECK(id = H5Aget_type(attribute.get()));
  Hdf5Handle stored_type(id, H5Tclose);
  DIFFUSE_CHECK(H5Tget_class(stored_type.get()) == H5T_STRING, "attribute '", name, "' is not a string");
  if (H5Tis_variable_str(stored_type.get()) > 0) {
    char* text = nullptr;
    H5_CHECK(H5Aread(attribute.get(), stored_type.get(), &text));
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  std::string value(H5Tget_size(stored_type.get()), '\0');
  H5_CHECK(H5Aread(attribute.get(), stored_type.get(), value.data()));
  return value.substr(0, value.find('\0'));
}

void write_buffer_group(hid_t file, const std::string& group_path, const std::vector<ParameterEntry>& layout,
                        const Tensor& buffer) {
  // Intermediate groups ("/ema" for "/ema/0.999") are created on the way.
  hid_t id;
  H5_CHECK(id = H5Pcreate(H5P_LINK_CREATE));
  Hdf5Handle link_properties(id, H5Pclose);
  H5_CHECK(H5Pset_create_intermediate_group(link_properties.get(), 1));
  H5_CHECK(id = H5Gcreate2(file, group_path.c_str(), link_properties.get(), H5P_DEFAULT, H5P_DEFAULT));
  Hdf5Handle group(id, H5Gclose);
  const float* data = buffer.f32();
  for (const ParameterEntry& entry : layout) {
    std::vector<hsize_t> dims(entry.shape.begin(), entry.shape.end());
    H5_CHECK(id = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
    Hdf5Handle space(id, H5Sclose);
    H5_CHECK(id = H5Dcreate2(group.get(), entry.name.c_str(), H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT));
    Hdf5Handle dataset(id, H5Dclose);
    H5_CHECK(H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data + entry.offset));
  }
}

void read_buffer_group(hid_t file, const std::string& group_path, const std::vector<ParameterEntry>& layout,
                       const Tensor& buffer) {
  htri_t exists;
  H5_CHECK(exists = H5Lexists(file, group_path.c_str(), H5P_DEFAULT));
  DIFFUSE_CHECK(exists > 0, "group ", group_path, " is missing");
  hid_t id;
  H5_CHECK(id = H5Gopen2(file, group_path.c_str(), H5P_DEFAULT));
  Hdf5Handle group(id, H5Gclose);
  float* data = buffer.f32();
  for (const ParameterEntry& entry : layout) {
    H5_CHECK(exists = H5Lexists(group.get(), entry.name.c_str(), H5P_DEFAULT));
    DIFFUSE_CHECK(exists > 0, "parameter '", entry.name, "' of this model is not in ", group_path,
                  ": the checkpoint is of another architecture");
    H5_CHECK(id = H5Dopen2(group.get(), entry.name.c_str(), H5P_DEFAULT));
    Hdf5Handle dataset(id, H5Dclose);
    H5_CHECK(id = H5Dget_space(dataset.get()));
    Hdf5Handle space(id, H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0)));
    H5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
    const Shape stored(dims.begin(), dims.end());
    DIFFUSE_CHECK(stored == entry.shape, "parameter '", entry.name, "' has shape ", shape_string(entry.shape),
                  " in this model but ", shape_string(stored), " in ", group_path,
                  ": the checkpoint is of another architecture");
    H5_CHECK(H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data + entry.offset));
  }
}

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  DIFFUSE_CHECK(fd >= 0, "cannot open ", path, " to sync it: ", std::strerror(errno));
  const int status = ::fsync(fd);
  ::close(fd);
  DIFFUSE_CHECK(status == 0, "fsync of ", path, " failed: ", std::strerror(errno));
}

Hdf5Handle open_for_reading(const std::string& path) {
  DIFFUSE_CHECK(fs::exists(path), "no such file");
  silence_hdf5_errors();
  hid_t id;
  H5_CHECK(id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  return Hdf5Handle(id, H5Fclose);
}

CheckpointMeta read_meta(hid_t file) {
  CheckpointMeta meta;
  const int version = read_scalar_attribute<int>(file, "format_version", H5T_NATIVE_INT);
  DIFFUSE_CHECK(version == kCheckpointFormatVersion, "format_version ", version, " is not supported (this build reads ",
                kCheckpointFormatVersion, ")");
  meta.step = read_scalar_attribute<int64_t>(file, "step", H5T_NATIVE_INT64);
  meta.epoch = read_scalar_attribute<int64_t>(file, "epoch", H5T_NATIVE_INT64);
  meta.samples_seen = read_scalar_attribute<int64_t>(file, "samples_seen", H5T_NATIVE_INT64);
  meta.world_size = read_scalar_attribute<int>(file, "world_size", H5T_NATIVE_INT);
  meta.loss_scale = read_scalar_attribute<double>(file, "loss_scale", H5T_NATIVE_DOUBLE);
  meta.loss_scale_good_steps = read_scalar_attribute<int64_t>(file, "loss_scale_good_steps", H5T_NATIVE_INT64);
  meta.seed = read_scalar_attribute<uint64_t>(file, "seed", H5T_NATIVE_UINT64);
  meta.config_yaml = read_string_attribute(file, "config");
  if (has_attribute(file, "sampling_steps"))
    meta.sampling_steps = read_scalar_attribute<int>(file, "sampling_steps", H5T_NATIVE_INT);
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
      silence_hdf5_errors();
      hid_t id;
      H5_CHECK(id = H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
      Hdf5Handle file(id, H5Fclose);
      const int version = kCheckpointFormatVersion;
      write_scalar_attribute(file.get(), "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, &version);
      write_scalar_attribute(file.get(), "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &meta.step);
      write_scalar_attribute(file.get(), "epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, &meta.epoch);
      write_scalar_attribute(file.get(), "samples_seen", H5T_STD_I64LE, H5T_NATIVE_INT64, &meta.samples_seen);
      write_scalar_attribute(file.get(), "world_size", H5T_STD_I32LE, H5T_NATIVE_INT, &meta.world_size);
      write_scalar_attribute(file.get(), "loss_scale", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &meta.loss_scale);
      write_scalar_attribute(file.get(), "loss_scale_good_steps", H5T_STD_I64LE, H5T_NATIVE_INT64,
                             &meta.loss_scale_good_steps);
      write_scalar_attribute(file.get(), "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &meta.seed);
      write_string_attribute(file.get(), "config", meta.config_yaml);
      if (meta.sampling_steps > 0)
        write_scalar_attribute(file.get(), "sampling_steps", H5T_STD_I32LE, H5T_NATIVE_INT, &meta.sampling_steps);
      write_buffer_group(file.get(), "/params", layout, buffers.params);
      for (const auto& [rate, buffer] : buffers.ema) write_buffer_group(file.get(), "/ema/" + rate_name(rate), layout, buffer);
      if (buffers.adam_m.defined()) write_buffer_group(file.get(), "/optimizer/m", layout, buffers.adam_m);
      if (buffers.adam_v.defined()) write_buffer_group(file.get(), "/optimizer/v", layout, buffers.adam_v);
      H5_CHECK(file.close());
    }
    fsync_path(temporary);
    std::error_code error;
    fs::rename(temporary, path, error);
    DIFFUSE_CHECK(!error, "cannot rename ", temporary, ": ", error.message());
    fsync_path(fs::path(path).parent_path().string());  // make the rename itself durable
  });
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  return with_file_context("checkpoint", path, [&] {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    Hdf5Handle file = open_for_reading(path);
    return read_meta(file.get());
  });
}

void read_checkpoint(const std::string& path, const std::vector<ParameterEntry>& layout, CheckpointBuffers& buffers) {
  with_file_context("checkpoint", path, [&] {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    Hdf5Handle file = open_for_reading(path);
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
    Hdf5Handle file = open_for_reading(path);
    std::vector<double> rates;
    htri_t exists;
    H5_CHECK(exists = H5Lexists(file.get(), "/ema", H5P_DEFAULT));
    if (exists <= 0) return rates;
    hid_t id;
    H5_CHECK(id = H5Gopen2(file.get(), "/ema", H5P_DEFAULT));
    Hdf5Handle group(id, H5Gclose);
    H5G_info_t info;
    H5_CHECK(H5Gget_info(group.get(), &info));
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      char name[64] = {};
      H5_CHECK(H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof(name), H5P_DEFAULT));
      rates.push_back(std::stod(name));
    }
    return rates;
  });
}

}  // namespace diffuse
