// The training-data loader: the same global sample sequence for 1, 2 and 4
// ranks, epochs that are permutations, deterministic flips, prefetching that
// changes nothing, and resuming at any step.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <vector>

#include "data/loader.h"
#include "data_testing.h"
#include "io/checks_hdf5.h"

namespace diffuse {
namespace {

using testing::indexed_is_flipped;
using testing::indexed_sample;
using testing::TempDir;

constexpr int64_t kCount = 100, kHeight = 3, kWidth = 5, kChannels = 3, kClasses = 7;

class Loader : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = new TempDir();
    testing::write_indexed_dataset(path(), kCount, kHeight, kWidth, kChannels, kClasses);
    testing::write_indexed_dataset(directory_->file("unlabelled.h5"), 40, kHeight, kWidth, 1, 0);
  }
  static void TearDownTestSuite() {
    delete directory_;
    directory_ = nullptr;
  }
  static std::string path() { return directory_->file("indexed.h5"); }

  static LoaderOptions options(int64_t batch, int rank, int world, int prefetch, bool flip = true) {
    LoaderOptions options;
    options.path = path();
    options.global_batch = batch;
    options.rank = rank;
    options.world_size = world;
    options.seed = 1234;
    options.horizontal_flip = flip;
    options.prefetch = prefetch;
    return options;
  }

  static std::vector<int64_t> samples_of(const Batch& batch) {
    std::vector<int64_t> samples;
    const int64_t image = kHeight * kWidth * kChannels;
    for (int64_t n = 0; n < batch.images.dim(0); ++n) {
      samples.push_back(indexed_sample(batch.images.f32() + n * image, kWidth, kChannels));
    }
    return samples;
  }

  static TempDir* directory_;
};
TempDir* Loader::directory_ = nullptr;

void expect_same_batch(const Batch& a, const Batch& b, const std::string& what) {
  EXPECT_EQ(a.step, b.step) << what;
  EXPECT_EQ(a.first_sample, b.first_sample) << what;
  EXPECT_EQ(to_vector(a.images), to_vector(b.images)) << what;
  EXPECT_EQ(to_vector(a.labels), to_vector(b.labels)) << what;
}

TEST_F(Loader, SameGlobalSamplesForOneTwoAndFourRanks) {
  const int64_t batch = 8, steps = 30;  // 12 steps per epoch: crosses two epoch boundaries
  DataLoader single(options(batch, 0, 1, 0));
  std::vector<std::unique_ptr<DataLoader>> two, four;
  for (int r = 0; r < 2; ++r) two.push_back(std::make_unique<DataLoader>(options(batch, r, 2, 2)));
  for (int r = 0; r < 4; ++r) four.push_back(std::make_unique<DataLoader>(options(batch, r, 4, 1)));
  for (int64_t step = 0; step < steps; ++step) {
    const Batch whole = single.next();
    ASSERT_EQ(whole.images.shape(), (Shape{8, kHeight, kWidth, kChannels}));
    const std::vector<float> images = to_vector(whole.images), labels = to_vector(whole.labels);
    for (auto* ranks : {&two, &four}) {
      std::vector<float> joined_images, joined_labels;
      for (size_t r = 0; r < ranks->size(); ++r) {
        const Batch part = (*ranks)[r]->next();
        EXPECT_EQ(part.step, step);
        EXPECT_EQ(part.first_sample,
                  step * batch + static_cast<int64_t>(r) * batch / static_cast<int64_t>(ranks->size()));
        const std::vector<float> part_images = to_vector(part.images), part_labels = to_vector(part.labels);
        joined_images.insert(joined_images.end(), part_images.begin(), part_images.end());
        joined_labels.insert(joined_labels.end(), part_labels.begin(), part_labels.end());
      }
      EXPECT_EQ(joined_images, images) << ranks->size() << " ranks, step " << step;
      EXPECT_EQ(joined_labels, labels) << ranks->size() << " ranks, step " << step;
    }
  }
}

TEST_F(Loader, EpochsArePermutationsThatDiffer) {
  DataLoader loader(options(8, 0, 1, 2));
  ASSERT_EQ(loader.steps_per_epoch(), 12);
  std::vector<std::vector<int64_t>> epochs(3);
  for (auto& epoch : epochs) {
    for (int64_t step = 0; step < 12; ++step) {
      const Batch batch = loader.next();
      for (int64_t sample : samples_of(batch)) epoch.push_back(sample);
      for (int64_t n = 0; n < 8; ++n) EXPECT_EQ(batch.labels.i32()[n], samples_of(batch)[n] % kClasses);
    }
    EXPECT_EQ(std::set<int64_t>(epoch.begin(), epoch.end()).size(), 96u) << "no repeats within an epoch";
  }
  EXPECT_NE(epochs[0], epochs[1]);
  EXPECT_NE(epochs[1], epochs[2]);
}

TEST_F(Loader, FlipsFollowTheFlipStreamAndAreReproducible) {
  DataLoader flipping(options(10, 0, 1, 0)), again(options(10, 0, 1, 2)), plain(options(10, 0, 1, 0, false));
  int flipped = 0, total = 0;
  for (int64_t step = 0; step < 20; ++step) {
    const Batch a = flipping.next(), b = again.next(), c = plain.next();
    expect_same_batch(a, b, "flip determinism");
    EXPECT_EQ(samples_of(a), samples_of(c)) << "flips do not change which samples are used";
    const int64_t image = kHeight * kWidth * kChannels;
    for (int64_t n = 0; n < 10; ++n) {
      const bool is_flipped = indexed_is_flipped(a.images.f32() + n * image, kWidth, kChannels);
      EXPECT_EQ(is_flipped, flip_sample(1234, step, a.first_sample + n)) << "step " << step << " sample " << n;
      EXPECT_FALSE(indexed_is_flipped(c.images.f32() + n * image, kWidth, kChannels));
      flipped += is_flipped;
      ++total;
    }
  }
  EXPECT_GT(flipped, total / 4);
  EXPECT_LT(flipped, 3 * total / 4);
}

TEST_F(Loader, PixelsAreScaledToMinusOneOne) {
  DataLoader loader(options(4, 0, 1, 0, false));
  const std::vector<float> pixels = to_vector(loader.next().images);
  std::set<float> values(pixels.begin(), pixels.end());
  EXPECT_EQ(*values.begin(), -1.0f);
  EXPECT_EQ(*values.rbegin(), 1.0f) << "255 -> 1";
}

TEST_F(Loader, PrefetchingDeliversTheSynchronousBatches) {
  DataLoader synchronous(options(8, 1, 2, 0)), prefetching(options(8, 1, 2, 5));
  for (int64_t step = 0; step < 40; ++step) {
    expect_same_batch(synchronous.next(), prefetching.next(), "step " + std::to_string(step));
  }
}

TEST_F(Loader, ResumingAtAStepContinuesTheSameSequence) {
  DataLoader fresh(options(8, 0, 2, 3));
  std::vector<Batch> batches;
  for (int64_t step = 0; step < 30; ++step) batches.push_back(fresh.next());
  for (int64_t start : {1, 11, 12, 25}) {
    LoaderOptions resumed_options = options(8, 0, 2, 3);
    resumed_options.start_step = start;
    DataLoader resumed(resumed_options);
    for (int64_t step = start; step < std::min<int64_t>(start + 5, 30); ++step) {
      expect_same_batch(resumed.next(), batches[step], "resumed at " + std::to_string(start));
    }
  }
}

TEST_F(Loader, UnlabelledDatasetsGiveUndefinedLabels) {
  LoaderOptions unlabelled = options(4, 0, 1, 1);
  unlabelled.path = directory_->file("unlabelled.h5");
  DataLoader loader(unlabelled);
  const Batch batch = loader.next();
  EXPECT_FALSE(batch.labels.defined());
  EXPECT_EQ(batch.images.shape(), (Shape{4, kHeight, kWidth, 1}));
}

TEST_F(Loader, BadOptionsAreErrors) {
  EXPECT_THROW(DataLoader(options(10, 0, 4, 0)), Error) << "10 is not divisible by 4";
  EXPECT_THROW(DataLoader(options(128, 0, 1, 0)), Error) << "fewer samples than one batch";
  LoaderOptions missing = options(8, 0, 1, 0);
  missing.path = directory_->file("missing.h5");
  testing::expect_error_mentions([&] { DataLoader loader(missing); }, {missing.path, "No such file"});
}

TEST_F(Loader, DestroyingWithAFullQueueStopsTheThread) {
  for (int round = 0; round < 20; ++round) {
    DataLoader loader(options(8, 0, 1, 4));
    if (round % 2) loader.next();
  }
}

// A deflate-compressed dataset whose first chunk is then overwritten with
// garbage: it opens and validates, but reading its images fails.
void write_dataset_with_corrupt_chunk(const std::string& path) {
  silence_hdf5_errors();
  const hsize_t extents[4] = {64, 4, 4, 1}, chunk[4] = {16, 4, 4, 1};
  std::vector<uint8_t> images(64 * 16);
  for (size_t i = 0; i < images.size(); ++i) images[i] = static_cast<uint8_t>(i * 37 % 251);
  hid_t file, space, properties, dataset;
  H5_CHECK(file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  H5_CHECK(space = H5Screate_simple(4, extents, nullptr));
  H5_CHECK(properties = H5Pcreate(H5P_DATASET_CREATE));
  H5_CHECK(H5Pset_chunk(properties, 4, chunk));
  H5_CHECK(H5Pset_deflate(properties, 6));
  H5_CHECK(dataset = H5Dcreate2(file, "images", H5T_STD_U8LE, space, H5P_DEFAULT, properties, H5P_DEFAULT));
  H5_CHECK(H5Dwrite(dataset, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, images.data()));
  std::vector<std::pair<haddr_t, hsize_t>> chunks(4);  // file address and size of each compressed chunk
  for (hsize_t index = 0; index < 4; ++index) {
    H5_CHECK(H5Dget_chunk_info(dataset, space, index, nullptr, nullptr, &chunks[index].first, &chunks[index].second));
  }
  H5Dclose(dataset);
  H5Pclose(properties);
  H5Sclose(space);
  H5Fclose(file);
  std::vector<uint8_t> bytes = testing::read_bytes(path);
  for (const auto& [address, size] : chunks) std::fill_n(bytes.begin() + address, size, 0xA5);
  testing::write_bytes(path, bytes);
}

TEST_F(Loader, ReadErrorsOnThePrefetchThreadSurfaceInNext) {
  LoaderOptions corrupt = options(8, 0, 1, 2);
  corrupt.path = directory_->file("corrupt.h5");
  write_dataset_with_corrupt_chunk(corrupt.path);
  DataLoader loader(corrupt);
  testing::expect_error_mentions([&] { loader.next(); }, {corrupt.path, "HDF5 error"});
  EXPECT_THROW(loader.next(), Error) << "the loader stays failed";
}

TEST(LoaderThroughput, FashionMnistTrainingBatches) {
  if (testing::fashion_mnist_source("train-images-idx3-ubyte.gz").empty()) GTEST_SKIP() << "no Fashion-MNIST";
  LoaderOptions options;
  options.path = testing::fashion_mnist_directory() + "/train.h5";
  options.global_batch = 128;
  options.seed = 1;
  options.horizontal_flip = true;
  options.prefetch = 2;
  DataLoader loader(options);
  const int steps = 200;
  const auto start = std::chrono::steady_clock::now();
  for (int step = 0; step < steps; ++step) ASSERT_EQ(loader.next().images.dim(0), 128);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("loader throughput (Fashion-MNIST, batch 128, random order, flips): %.0f images/s\n",
              steps * 128 / seconds);
  RecordProperty("images_per_second", std::to_string(static_cast<int64_t>(steps * 128 / seconds)));
}

}  // namespace
}  // namespace diffuse
