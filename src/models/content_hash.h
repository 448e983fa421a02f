#pragma once
// sha256 of files' contents, as "sha256:<hex>".

#include <string>
#include <string_view>
#include <vector>

namespace ipfs_accel::models {

// Hashes the files in order, as one stream. Throws core::Error(kIo).
std::string Sha256OfFiles(const std::vector<std::string>& paths);

// The bytes of `text`, hashed the same way.
std::string Sha256OfText(std::string_view text);

}  // namespace ipfs_accel::models
