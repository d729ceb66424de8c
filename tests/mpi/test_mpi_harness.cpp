// Runs as real MPI ranks (`mpirun -np 2` from ctest): proves the harness,
// exact reductions, rank-prefixed messages and MPI_CHECK. Every rank runs
// every test; mpirun fails if any rank does.
#include <gtest/gtest.h>
#include <mpi.h>

#include <string>
#include <vector>

#include "core/log.h"
#include "distributed/checks_mpi.h"

namespace diffuse {
namespace {

int world_rank() {
  int rank = 0;
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  return rank;
}

int world_size() {
  int size = 0;
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size));
  return size;
}

TEST(MpiHarness, RunsWithTwoRanks) { EXPECT_EQ(world_size(), 2); }

TEST(MpiHarness, AllReduceIsExact) {
  // Values that are exact in fp32, so the sum is the same in any order.
  const int rank = world_rank(), size = world_size();
  std::vector<float> values(1000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>((rank + 1) * static_cast<int>(i)) * 0.25f;
  MPI_CHECK(
      MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
  const int rank_sum = size * (size + 1) / 2;
  for (size_t i = 0; i < values.size(); ++i)
    ASSERT_EQ(values[i], static_cast<float>(rank_sum * static_cast<int>(i)) * 0.25f) << "element " << i;
}

TEST(MpiHarness, BroadcastFromRankZero) {
  int value = world_rank() == 0 ? 4242 : -1;
  MPI_CHECK(MPI_Bcast(&value, 1, MPI_INT, 0, MPI_COMM_WORLD));
  EXPECT_EQ(value, 4242);
}

TEST(MpiHarness, MessagesCarryTheRank) {
  const int rank = world_rank();
  EXPECT_EQ(log_prefix(LogLevel::Warning), concat("[rank ", rank, "] warning: "));
  try {
    DIFFUSE_CHECK(false, "deliberate");
    FAIL() << "DIFFUSE_CHECK(false) must throw";
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()).rfind(concat("[rank ", rank, "] deliberate"), 0), 0u) << error.what();
  }
}

TEST(MpiHarness, FailedCallNamesStatementAndRank) {
  MPI_Comm comm;
  MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm));
  MPI_CHECK(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
  int value = 0;
  try {
    MPI_CHECK(MPI_Send(&value, 1, MPI_INT, /*dest=*/world_size() + 5, 0, comm));
    FAIL() << "sending to a rank that does not exist must throw";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(concat("[rank ", world_rank(), "] MPI error: ")), std::string::npos) << message;
    EXPECT_NE(message.find("MPI_Send(&value"), std::string::npos) << message;
  }
  MPI_CHECK(MPI_Comm_free(&comm));
}

}  // namespace
}  // namespace diffuse

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  diffuse::set_process_rank(rank);
  ::testing::InitGoogleTest(&argc, argv);
  // Every rank reports; the job fails if any rank's tests fail.
  const int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any_failed;
}
