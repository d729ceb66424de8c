// The training-data loader: this rank's share of every global batch, in an
// order that does not depend on the number of ranks (see sample_order.h),
// as fp32 images in [-1, 1]. A background thread reads up to `prefetch`
// batches ahead; its errors surface in the next call to next().
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/sample_order.h"

namespace diffuse {

struct LoaderOptions {
  std::string path;          // dataset file (dataset.h)
  int64_t global_batch = 0;  // B, summed over ranks; a multiple of world_size
  int rank = 0;
  int world_size = 1;
  uint64_t seed = 0;
  bool horizontal_flip = false;
  int prefetch = 2;        // batches read ahead on a background thread; 0 reads inside next()
  int64_t start_step = 0;  // the first batch next() returns, for resuming
};

struct Batch {
  int64_t step = 0;
  int64_t first_sample = 0;  // step * B + rank * B / W: global index of this rank's first sample, keys its RNG streams
  Tensor images;             // f32 [B / W, H, W, C], pixel / 127.5 - 1
  Tensor labels;             // i32 [B / W]; undefined when the dataset has no labels
};

class DataLoader {
 public:
  explicit DataLoader(const LoaderOptions& options);
  ~DataLoader();  // stops and joins the prefetch thread
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // The batch of the next step (start_step, start_step + 1, ...).
  Batch next();

  const DatasetInfo& info() const { return reader_.info(); }
  int64_t steps_per_epoch() const { return order_.steps_per_epoch(); }
  int64_t local_batch() const { return slice_.end - slice_.begin; }

 private:
  Batch load(int64_t step);
  void prefetch_loop();

  LoaderOptions options_;
  DatasetReader reader_;
  RankSlice slice_;
  SampleOrder order_;            // used by whichever thread loads
  std::vector<uint8_t> pixels_;  // load()'s read buffer, kept between steps
  int64_t next_step_;

  // Prefetching: the thread fills `ready_` with consecutive steps.
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  std::exception_ptr failure_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace diffuse
