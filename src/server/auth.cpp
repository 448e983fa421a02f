#include "ipfs_accel/server/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fmt/format.h>

#include <cctype>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/file_access.h"

namespace ipfs_accel::server {

namespace {

using Digest = unsigned char[SHA256_DIGEST_LENGTH];

void Hash(std::string_view text, Digest out) {
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out);
}

std::string_view Trimmed(std::string_view text) {
  const char* blanks = " \t\r\n";
  const size_t first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

}  // namespace

bool TokenMatches(std::string_view presented, std::string_view expected) {
  Digest a, b;
  Hash(presented, a);
  Hash(expected, b);
  return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

std::optional<std::string> BearerToken(std::string_view authorization) {
  authorization = Trimmed(authorization);
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i)  // the scheme is case-insensitive (RFC 7235)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i])
      return std::nullopt;
  return std::string(Trimmed(authorization.substr(kScheme.size())));
}

std::string ReadTokenFile(const std::string& path) {
  const std::string text = core::ReadRegularFile(path, 64 * 1024);
  const std::string token(Trimmed(text.substr(0, text.find('\n'))));
  if (token.size() < 16)
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("the token in '{}' is {} characters; write one of at least 16 "
                                  "(e.g. `openssl rand -hex 32 > {}`)",
                                  path, token.size(), path));
  return token;
}

}  // namespace ipfs_accel::server
