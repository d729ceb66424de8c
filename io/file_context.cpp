#include "io/file_context.h"

namespace diffuse {

Error error_with_file_context(const Error& error, const std::string& what, const std::string& path) {
  const std::string message = error.what();
  // Keep the rank first, where every other diffuse message has it.
  size_t body = 0;
  if (message.rfind("[rank ", 0) == 0) {
    const size_t close = message.find("] ");
    if (close != std::string::npos) body = close + 2;
  }
  const std::string context = concat(what, " ", path, ": ");
  if (message.compare(body, context.size(), context) == 0) return error;
  return Error(concat(message.substr(0, body), context, message.substr(body)));
}

}  // namespace diffuse
