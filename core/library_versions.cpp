#include "core/library_versions.h"

#include "core/error.h"

namespace diffuse {

std::string version_text(long version) {
  return concat(version / 10000, ".", (version % 10000) / 100, ".", version % 100);
}

long nccl_version(int code) {
  if (code >= 10000) return code;
  return static_cast<long>(code / 1000) * 10000 + (code % 1000 / 100) * 100 + code % 100;
}

std::string library_version_problem(const LibraryRequirement& requirement) {
  const long built_major = requirement.built / 10000;
  const bool same_major = requirement.loaded / 10000 == built_major;
  if (same_major && requirement.loaded >= requirement.floor) return "";
  const std::string& name = requirement.library;
  const std::string wanted = concat(name, " ", built_major, ".x at ", version_text(requirement.floor), " or newer");
  return concat(name, " ", version_text(requirement.loaded), " is loaded but diffuse needs ", wanted, " (",
                same_major ? requirement.floor_reason
                           : concat("it was built against ", name, " ", version_text(requirement.built)),
                "): put one first on LD_LIBRARY_PATH, or rebuild against the one installed");
}

}  // namespace diffuse
