// Registration of the CLI's subcommands; each runs when parsed.
#pragma once

#include <CLI/CLI.hpp>

namespace diffuse::cli {

// `diffuse info`: the build, the devices this process sees and the libraries it runs with.
void add_info_command(CLI::App& app);

}  // namespace diffuse::cli
