// Which cuDNN and NCCL a CUDA build runs with (core/library_versions.h): the rule, without a GPU.
#include <gtest/gtest.h>

#include "core/library_versions.h"

namespace diffuse {
namespace {

LibraryRequirement nccl(long loaded) {
  return {"NCCL", kNcclFloor, "ncclCommInitRankConfig and ncclCommFinalize", 22809, loaded};
}

TEST(LibraryVersions, OlderMinorAboveTheFloorQualifies) {
  EXPECT_EQ(library_version_problem({"cuDNN", kCudnnFloor, "the cuDNN 9 convolution API", 91900, 90100}), "");
  EXPECT_EQ(library_version_problem({"cuDNN", kCudnnFloor, "the cuDNN 9 convolution API", 91900, 92000}), "");
  EXPECT_EQ(library_version_problem(nccl(21400)), "");
  EXPECT_EQ(library_version_problem(nccl(22809)), "");
}

TEST(LibraryVersions, BelowTheFloorNamesBothVersionsAndWhy) {
  const std::string message = library_version_problem(nccl(21203));
  EXPECT_EQ(message,
            "NCCL 2.12.3 is loaded but diffuse needs NCCL 2.x at 2.14.0 or newer (ncclCommInitRankConfig and "
            "ncclCommFinalize): put one first on LD_LIBRARY_PATH, or rebuild against the one installed");
}

TEST(LibraryVersions, AnotherMajorNamesTheVersionBuiltAgainst) {
  const std::string message =
      library_version_problem({"cuDNN", kCudnnFloor, "the cuDNN 9 convolution API", 91900, 80907});
  EXPECT_NE(message.find("cuDNN 8.9.7 is loaded but diffuse needs cuDNN 9.x at 9.0.0 or newer"), std::string::npos)
      << message;
  EXPECT_NE(message.find("it was built against cuDNN 9.19.0"), std::string::npos) << message;
  EXPECT_NE(library_version_problem(nccl(32000)).find("NCCL 3.20.0 is loaded"), std::string::npos);
}

TEST(LibraryVersions, NcclCodesOfBothEncodings) {
  EXPECT_EQ(nccl_version(2808), 20808);  // 2.8.8, from the days of major * 1000
  EXPECT_EQ(nccl_version(22809), 22809);
  EXPECT_EQ(version_text(nccl_version(2708)), "2.7.8");
  // Below the floor in either encoding.
  EXPECT_NE(library_version_problem(nccl(nccl_version(2808))).find("NCCL 2.8.8 is loaded"), std::string::npos);
}

}  // namespace
}  // namespace diffuse
