// Tensor handles: creation, views, reshape and slice sharing memory,
// describe(), the host helpers and the CPU allocator's byte counts.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/half.h"
#include "core/tensor.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

int64_t cpu_bytes_in_use() { return allocator_for(Device::CPU).bytes_in_use(); }

TEST(Tensor, UndefinedByDefault) {
  const Tensor tensor;
  EXPECT_FALSE(tensor.defined());
  EXPECT_EQ(tensor.describe(), "undefined");
}

TEST(Tensor, EmptyHasShapeDtypeAndSize) {
  const Tensor tensor = Tensor::empty({2, 3, 5, 7});
  EXPECT_TRUE(tensor.defined());
  EXPECT_EQ(tensor.shape(), (Shape{2, 3, 5, 7}));
  EXPECT_EQ(tensor.rank(), 4);
  EXPECT_EQ(tensor.numel(), 210);
  EXPECT_EQ(tensor.nbytes(), 840u);
  EXPECT_EQ(tensor.dtype(), DType::F32);
  EXPECT_EQ(tensor.device(), Device::CPU);
  EXPECT_EQ(tensor.dim(0), 2);
  EXPECT_EQ(tensor.dim(-1), 7);
  EXPECT_EQ(tensor.dim(-4), 2);
  EXPECT_THROW(tensor.dim(4), Error);
  EXPECT_THROW(tensor.dim(-5), Error);
  EXPECT_EQ(Tensor::empty({3}, DType::BF16).nbytes(), 6u);
  EXPECT_EQ(Tensor::empty({3}, DType::I32).nbytes(), 12u);
  EXPECT_THROW(Tensor::empty({2, -1}), Error);
}

TEST(Tensor, ZeroElementTensorIsDefined) {
  const Tensor tensor = Tensor::empty({0, 4});
  EXPECT_TRUE(tensor.defined());
  EXPECT_EQ(tensor.numel(), 0);
  EXPECT_EQ(tensor.nbytes(), 0u);
  EXPECT_TRUE(to_vector(tensor).empty());
}

TEST(Tensor, ZerosAreZero) {
  const Tensor tensor = Tensor::zeros({3, 17});
  for (float value : to_vector(tensor)) EXPECT_EQ(value, 0.0f);
  const Tensor half = Tensor::zeros({5}, DType::BF16);
  for (float value : to_vector(half)) EXPECT_EQ(value, 0.0f);
}

TEST(Tensor, TypedAccessChecksTheDtype) {
  const Tensor floats = Tensor::empty({2});
  const Tensor ints = Tensor::empty({2}, DType::I32);
  EXPECT_NO_THROW(floats.f32());
  EXPECT_NO_THROW(ints.i32());
  EXPECT_THROW(floats.i32(), Error);
  EXPECT_THROW(ints.f32(), Error);
  EXPECT_THROW(Tensor::empty({2}, DType::F16).f32(), Error);
}

TEST(Tensor, CopiesShareStorage) {
  const Tensor a = Tensor::zeros({4});
  const Tensor b = a;
  b.f32()[2] = 5.0f;
  EXPECT_EQ(a.f32()[2], 5.0f);
}

TEST(Tensor, ViewWrapsForeignMemory) {
  std::vector<float> memory = {1, 2, 3, 4, 5, 6};
  const int64_t before = cpu_bytes_in_use();
  const Tensor view = Tensor::view(memory.data(), {2, 3});
  EXPECT_EQ(cpu_bytes_in_use(), before) << "a view allocates nothing";
  EXPECT_EQ(view.raw(), memory.data());
  view.f32()[4] = 50.0f;
  EXPECT_EQ(memory[4], 50.0f);
  EXPECT_EQ(to_vector(view), (std::vector<float>{1, 2, 3, 4, 50, 6}));
  EXPECT_THROW(Tensor::view(nullptr, {2}), Error);
}

TEST(Tensor, ReshapeSharesMemory) {
  const Tensor a = from_vector({0, 1, 2, 3, 4, 5}, {2, 3});
  const Tensor b = a.reshape({3, 1, 2});
  EXPECT_EQ(b.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(b.raw(), a.raw());
  b.f32()[5] = 9.0f;
  EXPECT_EQ(a.f32()[5], 9.0f);
  EXPECT_EQ(a.shape(), (Shape{2, 3})) << "the original keeps its shape";
}

TEST(Tensor, BadReshapeThrowsNamingBothShapes) {
  const Tensor a = Tensor::empty({2, 3});
  const std::string message = testing::error_message([&] { a.reshape({4, 2}); });
  EXPECT_NE(message.find("[2,3]"), std::string::npos) << message;
  EXPECT_NE(message.find("[4,2]"), std::string::npos) << message;
}

TEST(Tensor, SliceSelectsRowsAndSharesMemory) {
  const Tensor a = from_vector({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {4, 3});
  const Tensor rows = a.slice(1, 3);
  EXPECT_EQ(rows.shape(), (Shape{2, 3}));
  EXPECT_EQ(to_vector(rows), (std::vector<float>{3, 4, 5, 6, 7, 8}));
  rows.f32()[0] = 30.0f;
  EXPECT_EQ(a.f32()[3], 30.0f);
  EXPECT_EQ(a.slice(4, 4).numel(), 0) << "an empty slice at the end is allowed";
  EXPECT_EQ(a.slice(0, 4).raw(), a.raw());
  // A flat buffer's named views: slices of a rank-1 tensor.
  const Tensor flat = Tensor::zeros({10});
  EXPECT_EQ(flat.slice(6, 10).raw(), static_cast<void*>(flat.f32() + 6));
}

TEST(Tensor, BadSliceThrows) {
  const Tensor a = Tensor::empty({4, 3});
  EXPECT_THROW(a.slice(3, 5), Error);
  EXPECT_THROW(a.slice(-1, 2), Error);
  EXPECT_THROW(a.slice(3, 2), Error);
  EXPECT_THROW(Tensor::empty({}).slice(0, 1), Error) << "a scalar has no first axis";
  const std::string message = testing::error_message([&] { a.slice(2, 9); });
  EXPECT_NE(message.find("f32[4,3]@cpu"), std::string::npos) << message;
}

TEST(Tensor, Describe) {
  EXPECT_EQ(Tensor::empty({2, 8, 8, 32}).describe(), "f32[2,8,8,32]@cpu");
  EXPECT_EQ(Tensor::empty({3}, DType::BF16).describe(), "bf16[3]@cpu");
  EXPECT_EQ(Tensor::empty({1, 2}, DType::F16).describe(), "f16[1,2]@cpu");
  EXPECT_EQ(Tensor::empty({5}, DType::I32).describe(), "i32[5]@cpu");
  EXPECT_EQ(shape_string({}), "[]");
  EXPECT_EQ(shape_numel({}), 1);
}

TEST(Tensor, AllocatorCountsBytesInUseAndPeak) {
  Allocator& allocator = allocator_for(Device::CPU);
  const int64_t base = allocator.bytes_in_use();
  allocator.reset_peak();
  EXPECT_EQ(allocator.peak_bytes(), base);
  {
    const Tensor a = Tensor::empty({1000});
    EXPECT_EQ(allocator.bytes_in_use(), base + 4000);
    {
      const Tensor b = Tensor::empty({250}, DType::F16);
      const Tensor alias = b.reshape({10, 25}).slice(2, 4);  // handles, not allocations
      EXPECT_EQ(allocator.bytes_in_use(), base + 4500);
      EXPECT_EQ(allocator.peak_bytes(), base + 4500);
    }
    EXPECT_EQ(allocator.bytes_in_use(), base + 4000) << "freed with its last handle";
    EXPECT_EQ(allocator.peak_bytes(), base + 4500) << "the peak stays";
  }
  EXPECT_EQ(allocator.bytes_in_use(), base);
  allocator.reset_peak();
  EXPECT_EQ(allocator.peak_bytes(), base);
}

// Freed blocks of 1 MiB and more come back for the next request of the same size (no page faults); they are
// not counted as in use while cached.
TEST(Tensor, CpuAllocatorReusesLargeBlocks) {
  const Allocator& allocator = allocator_for(Device::CPU);
  const int64_t base = allocator.bytes_in_use();
  constexpr int64_t kCount = (1 << 19) + 1234;  // just over 2 MiB, a size no other test uses
  const void* first = nullptr;
  {
    const Tensor big = Tensor::empty({kCount});
    first = big.raw();
  }
  EXPECT_EQ(allocator.bytes_in_use(), base);
  const Tensor again = Tensor::empty({kCount});
  EXPECT_EQ(again.raw(), first) << "the same size reuses the cached block";
  EXPECT_EQ(allocator.bytes_in_use(), base + 4 * kCount);
}

TEST(Tensor, SliceKeepsStorageAlive) {
  const int64_t base = cpu_bytes_in_use();
  Tensor slice;
  {
    const Tensor a = from_vector({1, 2, 3, 4}, {4});
    slice = a.slice(2, 4);
  }
  EXPECT_EQ(cpu_bytes_in_use(), base + 16);
  EXPECT_EQ(to_vector(slice), (std::vector<float>{3, 4}));
  slice = Tensor();
  EXPECT_EQ(cpu_bytes_in_use(), base);
}

TEST(TensorHelpers, FillCopyAndVectors) {
  Tensor a = Tensor::empty({2, 2});
  fill(a, 1.5f);
  EXPECT_EQ(to_vector(a), (std::vector<float>(4, 1.5f)));
  Tensor b = from_vector({1, 2, 3, 4}, {2, 2});
  copy(b, a);
  EXPECT_EQ(to_vector(a), (std::vector<float>{1, 2, 3, 4}));
  Tensor wrong = Tensor::empty({4});
  EXPECT_THROW(copy(b, wrong), Error);
  EXPECT_THROW(from_vector({1, 2, 3}, {2, 2}), Error);
}

TEST(TensorHelpers, ToVectorWidensHalfAndIntTypes) {
  Tensor h = Tensor::empty({2}, DType::F16);
  static_cast<f16*>(h.raw())[0] = f16{0x3c00};
  static_cast<f16*>(h.raw())[1] = f16{0xc100};
  EXPECT_EQ(to_vector(h), (std::vector<float>{1.0f, -2.5f}));
  Tensor b = Tensor::empty({1}, DType::BF16);
  static_cast<bf16*>(b.raw())[0] = bf16{0x4049};
  EXPECT_EQ(to_vector(b), (std::vector<float>{3.140625f}));
  Tensor i = Tensor::empty({2}, DType::I32);
  i.i32()[0] = -7;
  i.i32()[1] = 1 << 20;
  EXPECT_EQ(to_vector(i), (std::vector<float>{-7.0f, 1048576.0f}));
}

}  // namespace
}  // namespace diffuse
