// Checks on a file a command will write, made before any work starts: a run
// that samples for minutes must not fail only when it writes its result.
#pragma once

#include <string>
#include <vector>

namespace diffuse {

// Throws an Error naming `flag` (e.g. "--out") unless `path` ends in one of `extensions` (".png"; none given: any)
// and its directory exists and this process may create files in it. Returns the extension it ends in ("" when
// none was asked for), for commands whose output format follows it.
std::string check_output_path(const std::string& path, const std::string& flag,
                              const std::vector<std::string>& extensions);

}  // namespace diffuse
