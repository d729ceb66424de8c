#include <gtest/gtest.h>

#include <fstream>

#include "eval/published_statistics.h"
#include "tests/support/op_testing.h"
#include "tests/support/scratch_directory.h"

namespace diffuse::eval {
namespace {

using testing::error_message;

// Fixtures of tools/make_ref_stats_fixtures.py: mu [4] and sigma [4,4].
std::string fixture(const std::string& name) {
  return std::string(DIFFUSE_SOURCE_DIR) + "/tests/reference/ref_stats/" + name;
}

const std::vector<double> kMu = {0.5, -1.0, 2.0, 0.25};
const std::vector<double> kSigma = {2.0, 0.5, 0.0, 0.0, 0.5, 1.0, 0.25, 0.0, 0.0, 0.25, 1.5, -0.5, 0.0, 0.0, -0.5, 3.0};

#define EXPECT_CONTAINS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(PublishedStatistics, ReadsNumpysSavez) {
  const GaussianStatistics statistics = read_published_statistics(fixture("stats.npz"), 4, "features.h5");
  EXPECT_EQ(statistics.dim, 4);
  EXPECT_EQ(statistics.mean, kMu);
  EXPECT_EQ(statistics.covariance, kSigma);
}

TEST(PublishedStatistics, ReadsCompressedFloat32InNpyVersion2) {
  const GaussianStatistics statistics = read_published_statistics(fixture("stats_f4_v2.npz"), 4, "features.h5");
  EXPECT_EQ(statistics.mean, kMu) << "every value is exact in float32";
  EXPECT_EQ(statistics.covariance, kSigma);
}

TEST(PublishedStatistics, WidthOtherThanTheNetworksNamesTheFileAndBothWidths) {
  const std::string message = error_message([] { read_published_statistics(fixture("stats.npz"), 2048, "inc.h5"); });
  EXPECT_CONTAINS(message, "npz " + fixture("stats.npz") +
                               ": the statistics are 4-d but the feature network inc.h5 gives 2048-d features");
}

TEST(PublishedStatistics, MuAndSigmaOfDifferentWidthsAreAnError) {
  const std::string message = error_message([] { read_published_statistics(fixture("wrong_width.npz"), 4, "f.h5"); });
  EXPECT_CONTAINS(message, "npz " + fixture("wrong_width.npz") + ": 'mu' is 3-d but 'sigma' has shape [4,4]");
}

TEST(PublishedStatistics, MissingMuNamesTheFileAndTheArray) {
  const std::string message = error_message([] { read_published_statistics(fixture("no_mu.npz"), 4, "f.h5"); });
  EXPECT_CONTAINS(message, "npz " + fixture("no_mu.npz") + ": there is no array 'mu'");
  EXPECT_CONTAINS(message, "the archive holds sigma.npy");
}

TEST(PublishedStatistics, FortranOrderIsAnError) {
  const std::string message = error_message([] { read_published_statistics(fixture("fortran.npz"), 4, "f.h5"); });
  EXPECT_CONTAINS(message, "npz " + fixture("fortran.npz") + ": array 'sigma': it is stored in Fortran order");
}

TEST(PublishedStatistics, TruncatedFileIsAnErrorNamingIt) {
  const testing::ScratchDirectory scratch("npz");
  const std::string bytes = testing::read_text_file(fixture("stats.npz"));
  for (const size_t kept : {size_t{0}, size_t{100}, bytes.size() - 30}) {
    const std::string path = scratch.file("truncated.npz");
    std::ofstream(path, std::ios::binary) << bytes.substr(0, kept);
    const std::string message = error_message([&] { read_published_statistics(path, 4, "f.h5"); });
    EXPECT_CONTAINS(message, "npz " + path + ": cannot open it as a zip archive");
  }
}

}  // namespace
}  // namespace diffuse::eval
