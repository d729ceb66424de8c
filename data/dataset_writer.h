// Writes a dataset file (see dataset.h) safely: everything goes to the
// temporary "<path>.tmp", which commit() publishes (io/atomic_file.h). A
// failed or abandoned write removes the temporary file, so the final name
// never holds a half-written dataset, and an existing file is only replaced
// when the caller asks for it.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "data/dataset.h"

namespace diffuse {

enum class Overwrite { Refuse, Replace };

// Throws if `path` exists and `overwrite` is Refuse. Converters that write
// several files call it for all of them before writing any.
void check_can_write(const std::string& path, Overwrite overwrite);

class DatasetWriter {
 public:
  // `info` gives N, the image shape, labels or not, num_classes and source.
  DatasetWriter(const std::string& path, const DatasetInfo& info, Overwrite overwrite);
  // Destroying a writer that was not committed removes the temporary file.
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  // The next `count` images ([count, H, W, C] uint8) and their labels
  // ([count] int32; nullptr exactly when the dataset has no labels).
  void append(const uint8_t* images, const int32_t* labels, int64_t count);
  int64_t written() const { return written_; }

  // Checks that all N images were appended, then publishes the file.
  void commit();

 private:
  std::string path_;
  DatasetInfo info_;
  Overwrite overwrite_;
  int64_t written_ = 0;
  bool committed_ = false;
  Hdf5File file_;
};

// Writes a whole dataset at once: images [N, H, W, C] and labels [N] (nullptr when unlabelled).
void write_dataset_file(const std::string& path, const DatasetInfo& info, const uint8_t* images, const int32_t* labels,
                        Overwrite overwrite);

// Writes fp32 images [N, H, W, C] in [-1, 1] as 8-bit pixels (to_pixel), with labels [N] i32 (undefined: an
// unlabelled dataset) of `num_classes` classes.
void write_image_dataset(const std::string& path, const Tensor& images, const Tensor& labels, int64_t num_classes,
                         const std::string& source, Overwrite overwrite);

}  // namespace diffuse
