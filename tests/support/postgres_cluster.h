#pragma once
// Test helper: a real PostgreSQL server (Debian's postgresql-15) in a throwaway cluster under
// the temp folder, listening on a Unix socket there only, for as long as the object lives
// (scripts/postgres_cluster.sh starts and stops it). Each test takes a fresh database of it.

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "ipfs_accel/store/postgres_store.h"

namespace ipfs_accel::testing {

class PostgresCluster {
 public:
  PostgresCluster() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ipfs_accel_pg_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    const std::string command = Script() + " start " + dir_;
    FILE* out = ::popen(command.c_str(), "r");
    if (out == nullptr) throw std::runtime_error("cannot run " + command);
    char line[1024] = {};
    if (std::fgets(line, sizeof line, out) != nullptr) url_ = line;
    const int status = ::pclose(out);
    while (!url_.empty() && (url_.back() == '\n' || url_.back() == '\r')) url_.pop_back();
    if (status != 0 || url_.empty()) throw std::runtime_error("starting PostgreSQL failed");
  }
  ~PostgresCluster() {
    const std::string command = Script() + " stop " + dir_;
    [[maybe_unused]] const int status = std::system(command.c_str());
  }
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // The maintenance database's URL (postgresql:///postgres?host=DIR&user=postgres).
  const std::string& url() const { return url_; }
  // The socket folder.
  const std::string& dir() const { return dir_; }

  // A new, empty database; its URL.
  std::string NewDatabase() {
    const std::string name = "test_" + std::to_string(++databases_);
    // FILE_COPY: PostgreSQL 15's default (WAL_LOG) copies the template through the WAL, about
    // twice as slow for an empty database on a cluster without fsync.
    store::PostgresSession::Connect(url_)->Execute("CREATE DATABASE " + name +
                                                   " STRATEGY FILE_COPY");
    return DatabaseUrl(name);
  }
  std::string DatabaseUrl(const std::string& name) const {
    return "postgresql:///" + name + "?host=" + dir_ + "&user=postgres";
  }

 private:
  static std::string Script() {
    return std::string(IPFS_ACCEL_SOURCE_DIR) + "/scripts/postgres_cluster.sh";
  }

  std::string dir_;
  std::string url_;
  int databases_ = 0;
};

}  // namespace ipfs_accel::testing
