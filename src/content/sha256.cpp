#include "ipfs_accel/content/sha256.h"

#include <openssl/evp.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::content {

namespace {
void Check(int ok, const char* what) {
  if (ok != 1) throw core::Error(core::ErrorKind::kInternal, std::string("OpenSSL ") + what);
}
}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) Check(0, "could not make a digest context");
  Check(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr), "refused to start SHA-256");
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256& Sha256::Update(std::string_view bytes) {
  Check(EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()), "failed in SHA-256");
  return *this;
}

Digest Sha256::Final() {
  Digest d{};
  unsigned int n = 0;
  Check(EVP_DigestFinal_ex(ctx_, d.data(), &n), "failed to finish SHA-256");
  Check(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr), "refused to restart SHA-256");
  return d;
}

Digest Sha256Of(std::string_view bytes) { return Sha256().Update(bytes).Final(); }

}  // namespace ipfs_accel::content
