#include "core/error.h"

#include <atomic>
#include <cstring>

namespace diffuse {

namespace {
std::atomic<int> g_rank{-1};

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

std::string rank_prefix() {
  const int rank = g_rank.load();
  return rank >= 0 ? concat("[rank ", rank, "] ") : std::string();
}
}  // namespace

int process_rank() { return g_rank.load(); }
void set_process_rank(int rank) { g_rank.store(rank); }

void fail(const std::string& message, const char* file, int line) {
  throw Error(concat(rank_prefix(), message, " (", base_name(file), ":", line, ")"));
}

void fail_call(const char* library, const char* statement, const std::string& status, const char* file, int line) {
  throw Error(
      concat(rank_prefix(), library, " error: ", status, " in `", statement, "` (", base_name(file), ":", line, ")"));
}

}  // namespace diffuse
