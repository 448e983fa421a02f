#include "content_hash.h"

#include <openssl/evp.h>

#include <fstream>
#include <functional>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

// "sha256:<hex>" of what `feed` hands to its update function, in order.
std::string Sha256(
    const std::function<void(const std::function<void(const void*, size_t)>&)>& feed) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  feed([&](const void* data, size_t size) { EVP_DigestUpdate(ctx.get(), data, size); });
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  std::string hex = "sha256:";
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace

std::string Sha256OfFiles(const std::vector<std::string>& paths) {
  return Sha256([&](const auto& update) {
    std::vector<char> buf(1 << 20);
    for (const auto& path : paths) {
      std::ifstream in(path, std::ios::binary);
      if (!in)
        throw core::Error(core::ErrorKind::kIo, fmt::format("cannot read '{}' to hash it", path));
      while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        update(buf.data(), static_cast<size_t>(in.gcount()));
      }
    }
  });
}

std::string Sha256OfText(std::string_view text) {
  return Sha256([&](const auto& update) { update(text.data(), text.size()); });
}

}  // namespace ipfs_accel::models
