#pragma once
// Bearer tokens for the routes that write.

#include <optional>
#include <string>
#include <string_view>

namespace ipfs_accel::server {

// Whether `presented` equals `expected`, in time that depends on neither's content: both are
// hashed (SHA-256) and the digests compared with OpenSSL's CRYPTO_memcmp, so neither a shared
// prefix nor the length shows in the timing.
bool TokenMatches(std::string_view presented, std::string_view expected);

// The token of an "Authorization: Bearer <token>" header value; nullopt for any other scheme.
std::optional<std::string> BearerToken(std::string_view authorization);

// The token in `path`: its first line, surrounding blanks trimmed. Throws core::Error: kNotFound,
// kIo as core::ReadRegularFile does; kInvalidArgument for an empty token or one shorter than 16
// characters (guessable).
std::string ReadTokenFile(const std::string& path);

}  // namespace ipfs_accel::server
