#pragma once
// Test helper: tests/content/car_reference.mjs serving a file's or folder's DAG (as the
// reference ipfs-unixfs-importer builds it and @ipld/car writes it) as an IPFS trustless gateway
// on loopback, until destroyed. Needs node and the bootstrap's node_modules.

#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "ipfs_accel/content/cid.h"
#include "ipfs_accel/core/http_url.h"
#include "support/child_process.h"

namespace ipfs_accel::testing {

class ReferenceGateway {
 public:
  static constexpr const char* kNodeModules =
      IPFS_ACCEL_SOURCE_DIR "/third_party/prefix/share/node_modules";
  static constexpr const char* kScript = IPFS_ACCEL_SOURCE_DIR "/tests/content/car_reference.mjs";

  // `fault`: "" (serve it faithfully), "tamper" (one block's bytes changed) or "wrong-root".
  ReferenceGateway(int cid_version, const std::filesystem::path& path,
                   const std::string& fault = "") {
    std::vector<std::string> args = {kScript, kNodeModules, "serve", std::to_string(cid_version),
                                     path.string()};
    if (!fault.empty()) args.push_back(fault);
    child_ = SpawnProgram("node", args);
    char line[512] = {};
    if (child_.out == nullptr || std::fgets(line, sizeof line, child_.out) == nullptr) return;
    std::istringstream in(line);
    in >> root_ >> port_ >> tampered_;
  }
  ~ReferenceGateway() {
    if (child_.pid > 0) ::kill(child_.pid, SIGTERM);
    if (child_.pid > 0) ExitStatus(child_.pid);
    if (child_.out != nullptr) std::fclose(child_.out);
  }
  ReferenceGateway(const ReferenceGateway&) = delete;
  ReferenceGateway& operator=(const ReferenceGateway&) = delete;

  core::HttpUrl url() const { return {.host = "127.0.0.1", .port = port_, .prefix = ""}; }
  std::string url_text() const { return "http://127.0.0.1:" + std::to_string(port_); }
  content::Cid root() const { return content::ParseCid(root_); }
  const std::string& root_text() const { return root_; }
  const std::string& tampered() const { return tampered_; }  // the changed block's CID
  bool listening() const { return port_ > 0; }

 private:
  Child child_;
  std::string root_, tampered_;
  int port_ = 0;
};

}  // namespace ipfs_accel::testing
