#pragma once
// Writing an output file so that a failure never leaves a half-written file at its path.

#include <string>
#include <string_view>

namespace ipfs_accel::cli {

// Writes `bytes` to a uniquely named temporary file beside `path` and renames it onto `path`
// (atomic on one file system). On failure the temporary file is removed and core::Error(kIo)
// names `path`; an existing file at `path` is left as it was.
void WriteFileAtomically(const std::string& path, std::string_view bytes);

}  // namespace ipfs_accel::cli
