// Errors: every failure in diffuse becomes a diffuse::Error carrying one
// readable message. Library calls (CUDA, cuDNN, cuBLAS, NCCL, MPI, HDF5) go
// through DIFFUSE_CHECK_CALL, specialised per library in checks_*.h, so every
// message names the statement, the rank, the file and the line.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace diffuse {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Rank of this process for messages; -1 until known (set by the launcher
// from the MPI environment, before MPI itself starts).
int process_rank();
void set_process_rank(int rank);

[[noreturn]] void fail(const std::string& message, const char* file, int line);
[[noreturn]] void fail_call(const char* library, const char* statement, const std::string& status, const char* file,
                            int line);

// Faults where nothing may throw. A destructor or a shared_ptr deleter that throws ends the process in
// std::terminate, with no message and without the other ranks hearing of it; yet a failing cudaFree or
// cudaStreamDestroy means the GPU is broken and the user must be told. So such code runs its checked calls through
// defer_failures, which records the Error instead of throwing it. The first one is kept (later ones are usually its
// consequences) and throw_deferred_fault, at the next checked point (every allocation, every wait for the GPU, the
// end of a command), throws it as the Error it would have been, so that it takes the path of any other error: one
// line naming the call, the error and the rank, and a non-zero exit on every rank.
void defer_fault(const std::string& message) noexcept;
// Throws the recorded fault, once; does nothing when there is none.
void throw_deferred_fault();

template <typename Body>
void defer_failures(Body&& body) noexcept {
  try {
    body();
  } catch (const std::exception& error) {
    defer_fault(error.what());
  } catch (...) {
    defer_fault("unknown exception");
  }
}

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& out, const T& first, const Rest&... rest) {
  out << first;
  append(out, rest...);
}
}  // namespace detail

template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  detail::append(out, parts...);
  return out.str();
}

}  // namespace diffuse

// DIFFUSE_CHECK(condition, message parts...): throws diffuse::Error with the
// parts streamed together when the condition is false.
#define DIFFUSE_CHECK(condition, ...)                                                      \
  do {                                                                                     \
    if (!(condition)) ::diffuse::fail(::diffuse::concat(__VA_ARGS__), __FILE__, __LINE__); \
  } while (0)

// DIFFUSE_CHECK_CALL(library, statement, is_ok, describe): evaluates the
// statement once; if is_ok(status) is false, throws an Error naming the
// library, the statement text and describe(status).
#define DIFFUSE_CHECK_CALL(library, statement, is_ok, describe)                                 \
  do {                                                                                          \
    const auto diffuse_status_ = (statement);                                                   \
    if (!(is_ok(diffuse_status_)))                                                              \
      ::diffuse::fail_call(library, #statement, describe(diffuse_status_), __FILE__, __LINE__); \
  } while (0)
