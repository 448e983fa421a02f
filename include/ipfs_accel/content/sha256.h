#pragma once
// SHA-256 through OpenSSL's EVP interface (which uses the CPU's SHA extensions where present).
// Incremental, so a block can be hashed from pieces (a node's framing around a chunk of a
// file) without copying them together.

#include <array>
#include <cstdint>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace ipfs_accel::content {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();  // throws core::Error(kInternal) if OpenSSL cannot make a context
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& Update(std::string_view bytes);
  // The digest of everything given since construction or the last Final; starts over.
  Digest Final();

 private:
  evp_md_ctx_st* ctx_;
};

// The digest of `bytes` in one call.
Digest Sha256Of(std::string_view bytes);

}  // namespace ipfs_accel::content
