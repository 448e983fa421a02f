#pragma once
// Errors that end a command. Every Error carries one line for the user that names
// the thing, where it is, and what to do; the CLI prints it and maps kind() to an
// exit status. Expected outcomes (an unavailable backend, a failed verification)
// are values, not Errors.

#include <stdexcept>
#include <string>
#include <string_view>

namespace ipfs_accel::core {

enum class ErrorKind {
  kInvalidArgument,  // the user asked for something malformed or impossible
  kNotFound,         // a file, model, or platform that is not there
  kCorrupt,          // a file exists but its contents are wrong
  kUnsupported,      // well-formed, but not something this tool can do
  kUnavailable,      // a backend/provider that is not present on this machine
  kDatabase,         // the results database refused (locked, not DuckDB, newer schema)
  kIo,               // reading or writing failed (disk full, permissions)
  kRuntime,          // the inference runtime failed while running
  kInternal,         // a bug: an invariant did not hold
};

const char* ErrorKindName(ErrorKind kind);

// Text from elsewhere (a runtime's or a browser's message) as one line of an Error: its lines
// trimmed and joined with spaces, blank ones dropped, cut to `max_chars` with "...".
std::string OneLine(std::string_view text, size_t max_chars = 600);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace ipfs_accel::core
