#pragma once
// Opening files whose paths come from users or from other files (a shard index, a result
// list). Only regular files are opened: a FIFO would block the process at open or read, a
// device could feed it forever, a directory is not a file. Every refusal is one core::Error
// that says what the path is, never a system message about something else.

#include <cstdint>
#include <string>

namespace ipfs_accel::core {

// Opens `path` (following symlinks) read-only with O_CLOEXEC and returns the descriptor,
// which the caller closes. Nothing that is not a regular file is opened at all.
// Throws core::Error:
//  kNotFound         no such file, a dangling symlink, or a path component that is missing
//  kInvalidArgument  a directory, FIFO, socket or device; a symlink loop
//  kIo               permission denied, or another system error (named)
int OpenRegularFile(const std::string& path);

// The whole of a regular file (OpenRegularFile's errors), refused with
// core::Error(kInvalidArgument) when it is larger than max_bytes.
std::string ReadRegularFile(const std::string& path, uint64_t max_bytes = uint64_t{1} << 30);

}  // namespace ipfs_accel::core
