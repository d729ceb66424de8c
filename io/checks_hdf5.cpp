#include "io/checks_hdf5.h"

namespace diffuse {

namespace checks {

namespace {
herr_t keep_deepest(unsigned, const H5E_error2_t* error, void* text) {
  if (error->desc != nullptr) *static_cast<std::string*>(text) = error->desc;
  return 0;
}
}  // namespace

std::string hdf5_error_stack_text() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_deepest, &text);
  return text;
}

}  // namespace checks

void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

}  // namespace diffuse
