// Gradient buckets and the gradient-ready hook, in one process: a recording
// communicator shows which reductions start, when, and on what values.
#include <gtest/gtest.h>

#include <vector>

#include "core/ops.h"
#include "distributed/gradient_reducer.h"
#include "model/unet.h"
#include "tests/model/model_testing.h"

namespace diffuse {
namespace {

// One rank; remembers every started all-reduce with its values at that moment.
class RecordingCommunicator final : public Communicator {
 public:
  struct Start {
    const float* data;
    int64_t count;
    std::vector<float> values;
    bool during_backward;
  };

  const char* name() const override { return "recording"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  void all_reduce(const Tensor&, const Tensor&, ReduceOp) override {}
  double all_reduce(double value, ReduceOp) override { return value; }
  void broadcast(const Tensor&, int) override {}
  void all_gather(const Tensor& local, const Tensor& gathered) override { copy(local, gathered); }
  void all_gather_in_place(const Tensor&, const std::vector<int64_t>&) override {}
  void barrier() override {}
  CollectiveHandle start_all_reduce(const Tensor& buffer, ReduceOp) override {
    starts.push_back({buffer.f32(), buffer.numel(), to_vector(buffer), in_backward});
    return static_cast<CollectiveHandle>(starts.size());
  }
  CollectiveHandle start_reduce_scatter(const Tensor&, const Tensor&, const std::vector<int64_t>&) override {
    return 0;
  }
  void progress() override { ++progress_calls; }
  void wait(CollectiveHandle handle) override { waited.push_back(handle); }

  bool in_backward = false;
  std::vector<Start> starts;
  std::vector<CollectiveHandle> waited;
  int progress_calls = 0;
};

model::UNetSpec small_spec() {
  model::UNetSpec spec;
  spec.image_size = 8;
  spec.image_channels = 1;
  spec.channels = 8;
  spec.channel_mults = {1, 2};
  spec.num_res_blocks = 1;
  spec.attention_resolutions = {4};
  spec.groups = 4;
  spec.num_classes = 3;
  return spec;
}

class GradientReducerTest : public ::testing::Test {
 protected:
  GradientReducerTest() : unet_(small_spec(), store_) {
    store_.finalize(Device::CPU);
    testing::randomize_parameters(store_, 7);
    x_ = Tensor::empty({2, 8, 8, 1});
    ops::fill_normal(x_, 1, 0, 0, 0);
    dout_ = Tensor::empty({2, 8, 8, 1});
    ops::fill_normal(dout_, 2, 0, 0, 0);
    t_ = from_vector({0.3f, 0.8f}, {2});
    labels_ = Tensor::empty({2}, DType::I32);
    labels_.i32()[0] = 1;
    labels_.i32()[1] = 3;
  }

  void backward_pass(RecordingCommunicator& communicator) {
    unet_.forward(x_, t_, labels_, model::ForwardContext{});
    communicator.in_backward = true;
    unet_.backward(dout_);
    communicator.in_backward = false;
  }

  model::ParameterStore store_;
  model::UNet unet_;
  Tensor x_, dout_, t_, labels_;
};

TEST_F(GradientReducerTest, BucketsAreContiguousRangesFromTheEnd) {
  const int64_t bucket_bytes = 4096;
  const std::vector<GradientBucket> buckets = make_gradient_buckets(store_, bucket_bytes);
  ASSERT_GT(buckets.size(), 3u);
  EXPECT_EQ(buckets.front().end, store_.numel());
  EXPECT_EQ(buckets.back().begin, 0);
  EXPECT_EQ(buckets.back().first_parameter, 0);
  EXPECT_EQ(buckets.front().last_parameter, store_.count() - 1);
  for (size_t i = 0; i < buckets.size(); ++i) {
    const GradientBucket& bucket = buckets[i];
    EXPECT_EQ(bucket.begin, store_.at(bucket.first_parameter).offset);
    const model::Parameter& last = store_.at(bucket.last_parameter);
    EXPECT_EQ(bucket.end, last.offset + shape_numel(last.shape));
    if (bucket.first_parameter != bucket.last_parameter) {
      EXPECT_LE((bucket.end - bucket.begin) * 4, bucket_bytes) << "bucket " << i;
    }
    if (i + 1 < buckets.size()) {
      EXPECT_EQ(buckets[i + 1].end, bucket.begin);
      EXPECT_EQ(buckets[i + 1].last_parameter + 1, bucket.first_parameter);
    }
  }
}

// Each bucket starts during backward, in bucket order, with its gradients already final.
TEST_F(GradientReducerTest, BucketsStartDuringBackwardOnceTheirGradientsAreFinal) {
  RecordingCommunicator communicator;
  GradientReducer reducer(store_, communicator, 4096.0 / 1048576.0);
  store_.zero_grads();
  reducer.arm();
  backward_pass(communicator);
  reducer.finish();
  const std::vector<GradientBucket>& buckets = reducer.buckets();
  ASSERT_EQ(communicator.starts.size(), buckets.size());
  const std::vector<float> final_gradients = to_vector(store_.grads());
  for (size_t i = 0; i < buckets.size(); ++i) {
    const RecordingCommunicator::Start& start = communicator.starts[i];
    EXPECT_EQ(start.data, store_.grads().f32() + buckets[i].begin) << "bucket " << i;
    EXPECT_EQ(start.count, buckets[i].end - buckets[i].begin);
    EXPECT_TRUE(start.during_backward) << "bucket " << i << " started only after backward";
    const std::vector<float> expected(final_gradients.begin() + buckets[i].begin,
                                      final_gradients.begin() + buckets[i].end);
    EXPECT_EQ(start.values, expected) << "bucket " << i << " started before its gradients were final";
  }
  EXPECT_EQ(communicator.waited.size(), buckets.size());
  EXPECT_GE(communicator.progress_calls, store_.count());  // progress on every reported gradient
}

TEST_F(GradientReducerTest, OnlyTheArmedMicroStepReduces) {
  RecordingCommunicator communicator;
  GradientReducer reducer(store_, communicator, 4096.0 / 1048576.0);
  store_.zero_grads();
  backward_pass(communicator);  // an intermediate micro-step
  EXPECT_TRUE(communicator.starts.empty());
  reducer.arm();
  backward_pass(communicator);  // the last one
  reducer.finish();
  EXPECT_EQ(communicator.starts.size(), reducer.buckets().size());
  EXPECT_EQ(reducer.reductions_started(), static_cast<int64_t>(reducer.buckets().size()));
}

TEST_F(GradientReducerTest, AGradientReportedTwiceIsAnError) {
  RecordingCommunicator communicator;
  GradientReducer reducer(store_, communicator, 1.0);
  reducer.arm();
  const model::Parameter& parameter = store_.get("out.conv.bias");
  store_.gradient_ready(parameter);
  try {
    store_.gradient_ready(parameter);
    FAIL() << "a second report must throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("parameter 'out.conv.bias' reported its gradient final twice"),
              std::string::npos)
        << error.what();
  }
}

TEST_F(GradientReducerTest, TheHookGoesWithTheReducer) {
  RecordingCommunicator communicator;
  { GradientReducer reducer(store_, communicator, 1.0); }
  store_.gradient_ready(store_.at(0));  // no reducer, no hook: nothing happens
  EXPECT_TRUE(communicator.starts.empty());
}

}  // namespace
}  // namespace diffuse
