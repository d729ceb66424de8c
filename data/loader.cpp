// Reading, flipping and scaling batches, synchronously or on a prefetch thread.
#include "data/loader.h"

#include "core/error.h"
#include "distributed/stop_signal_mask.h"
#include "io/pixels.h"

namespace diffuse {

DataLoader::DataLoader(const LoaderOptions& options)
    : options_(options),
      reader_(options.path),
      slice_(rank_slice(options.global_batch, options.rank, options.world_size)),
      order_(reader_.info().count, options.global_batch, options.seed),
      next_step_(options.start_step) {
  DIFFUSE_CHECK(options_.prefetch >= 0, "prefetch depth must be >= 0, got ", options_.prefetch);
  DIFFUSE_CHECK(options_.start_step >= 0, "start step must be >= 0, got ", options_.start_step);
  if (options_.prefetch > 0) {
    const StopSignalsBlocked blocked;  // the loader thread inherits the block
    thread_ = std::thread(&DataLoader::prefetch_loop, this);
  }
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Batch DataLoader::next() {
  if (options_.prefetch == 0) return load(next_step_++);
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || failure_; });
  // Batches read before a failure are still delivered, in order.
  if (ready_.empty()) std::rethrow_exception(failure_);
  Batch batch = std::move(ready_.front());
  ready_.pop_front();
  lock.unlock();
  changed_.notify_all();
  return batch;
}

void DataLoader::prefetch_loop() {
  try {
    for (int64_t step = options_.start_step;; ++step) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stopping_ || static_cast<int>(ready_.size()) < options_.prefetch; });
        if (stopping_) return;
      }
      Batch batch = load(step);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.push_back(std::move(batch));
      }
      changed_.notify_all();
    }
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      failure_ = std::current_exception();
    }
    changed_.notify_all();
  }
}

Batch DataLoader::load(int64_t step) {
  const DatasetInfo& info = reader_.info();
  const std::vector<int64_t> indices = order_.batch_indices(step, slice_);
  const int64_t count = static_cast<int64_t>(indices.size());
  const int64_t image_bytes = info.image_bytes();
  pixels_.resize(static_cast<size_t>(count * image_bytes));
  reader_.read_images(indices, pixels_.data());

  Batch batch;
  batch.step = step;
  batch.first_sample = step * options_.global_batch + slice_.begin;
  batch.images = Tensor::empty({count, info.height, info.width, info.channels});
  float* images = batch.images.f32();
  const int64_t row = info.width * info.channels;
  for (int64_t n = 0; n < count; ++n) {
    const bool flip = options_.horizontal_flip && flip_sample(options_.seed, step, batch.first_sample + n);
    for (int64_t y = 0; y < info.height; ++y) {
      const uint8_t* source = pixels_.data() + n * image_bytes + y * row;
      float* target = images + n * image_bytes + y * row;
      for (int64_t x = 0; x < info.width; ++x) {
        const int64_t source_x = flip ? info.width - 1 - x : x;
        for (int64_t c = 0; c < info.channels; ++c) {
          target[x * info.channels + c] = from_pixel(source[source_x * info.channels + c]);
        }
      }
    }
  }
  if (info.has_labels) {
    batch.labels = Tensor::empty({count}, DType::I32);
    int32_t* labels = batch.labels.i32();
    for (int64_t n = 0; n < count; ++n) labels[n] = reader_.labels()[indices[n]];
  }
  return batch;
}

}  // namespace diffuse
