// The library check macros name the library, the statement and the status.
#include <gtest/gtest.h>

#include <string>

#include "io/checks_hdf5.h"
#include "tests/support/op_testing.h"

namespace diffuse {
namespace {

TEST(LibraryChecks, Hdf5FailureNamesStatementAndCause) {
  silence_hdf5_errors();
  const std::string message =
      testing::error_message([] { H5_CHECK(H5Fopen("/nonexistent/diffuse-test.h5", H5F_ACC_RDONLY, H5P_DEFAULT)); });
  EXPECT_NE(message.find("HDF5 error"), std::string::npos) << message;
  EXPECT_NE(message.find("H5Fopen(\"/nonexistent/diffuse-test.h5\""), std::string::npos) << message;
  EXPECT_NE(message.find("test_library_checks.cpp:"), std::string::npos) << message;
}

TEST(LibraryChecks, Hdf5SuccessPassesThrough) {
  hid_t space = -1;
  H5_CHECK(space = H5Screate(H5S_SCALAR));
  EXPECT_GE(space, 0);
  H5_CHECK(H5Sclose(space));
}

}  // namespace
}  // namespace diffuse
