// Checkpoints (docs/architecture.md "File formats"): HDF5 files readable with h5py.
//   /params/<name>              fp32 master weights
//   /ema/<rate>/<name>          one group per EMA rate
//   /optimizer/m/<name>, /optimizer/v/<name>
//   root attributes: format_version, step, epoch, samples_seen, world_size,
//   loss_scale, seed, config (resolved YAML), window_steps and window_loss_sum
//   (the open logging window), and sampling_steps and method for students.
// Written to a temporary name, fsynced and renamed: a crash mid-write leaves
// the previous checkpoint as the newest complete one.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace diffuse {

constexpr int kCheckpointFormatVersion = 1;

// Where each named parameter lives in the flat buffers.
struct ParameterEntry {
  std::string name;
  Shape shape;
  int64_t offset = 0;  // in elements
};

struct CheckpointMeta {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t samples_seen = 0;
  int world_size = 1;
  double loss_scale = 1.0;
  int64_t loss_scale_good_steps = 0;
  uint64_t seed = 0;
  std::string config_yaml;
  int sampling_steps = 0;  // distilled students only; 0 = not a student
  std::string method;      // distilled students: how, "progressive" or "consistency"; "" = not a student
  // The logging window open at `step` (steps since the last metrics line and the sum of their per-sample
  // losses over all ranks), so that a resumed run logs the same windowed loss as one never interrupted.
  int64_t window_steps = 0;
  double window_loss_sum = 0.0;
};

// Flat host buffers, laid out as the entries say. Absent parts are undefined tensors.
struct CheckpointBuffers {
  Tensor params;
  std::vector<std::pair<double, Tensor>> ema;  // (rate, buffer)
  Tensor adam_m;
  Tensor adam_v;
};

// "RUN/checkpoints/ckpt-00001234.h5"
std::string checkpoint_path(const std::string& run_dir, int64_t step);
// The run's checkpoints, oldest step first: only files named ckpt-<digits>.h5 count, so other files kept
// in RUN/checkpoints (ckpt-best.h5, temporaries ending in .tmp) are neither resumed from nor pruned.
std::vector<std::string> list_checkpoints(const std::string& run_dir);
// The newest of list_checkpoints(), or "" when there is none.
std::string newest_checkpoint(const std::string& run_dir);
// Deletes all but the newest `keep` of list_checkpoints().
void prune_checkpoints(const std::string& run_dir, int keep);

// Opens the checkpoint and checks its metadata and that every group of weights holds the same parameters with
// the same shapes, without reading the weights: an Error naming the file and what is wrong otherwise.
void check_checkpoint_complete(const std::string& path);
// The newest checkpoint of the run that check_checkpoint_complete() accepts, with a warning naming each newer
// one it passes over and why (they stay on disk); "" when the run has none, an Error when none is complete.
std::string newest_complete_checkpoint(const std::string& run_dir);

void write_checkpoint(const std::string& path, const std::vector<ParameterEntry>& layout, const CheckpointMeta& meta,
                      const CheckpointBuffers& buffers);

CheckpointMeta read_checkpoint_meta(const std::string& path);
// Fills the defined buffers (sized for `layout`) from the file. Every
// parameter of the layout must be present with the same shape: otherwise the
// error names the first mismatched parameter. EMA buffers are matched by rate.
// A NaN or infinity in any buffer read is an error naming the group and the
// first parameter that holds one.
void read_checkpoint(const std::string& path, const std::vector<ParameterEntry>& layout, CheckpointBuffers& buffers);

// Names of the EMA rates stored in a checkpoint.
std::vector<double> checkpoint_ema_rates(const std::string& path);

}  // namespace diffuse
