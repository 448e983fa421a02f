#pragma once
// The server's connections to its results database: a fixed set of ResultStores (one DuckDB
// connection each, one DuckDB instance for the file) opened at start, leased one per request,
// so requests read concurrently and each store stays on one thread at a time (ResultStore is
// thread-compatible). Writes take write_mutex(): one writer at a time, so a duplicate check and
// the write that follows it cannot interleave with another writer's.

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::server {

class StorePool {
 public:
  // Opens `size` stores on `path` (read-write: created and migrated if needed). Then disables
  // every store's external access (ResultStore::DisableExternalAccess): the server's SQL
  // endpoint must not reach other files. Throws what ResultStore::Open throws.
  StorePool(const std::string& path, size_t size, const store::OpenOptions& options);
  ~StorePool();
  StorePool(const StorePool&) = delete;
  StorePool& operator=(const StorePool&) = delete;

  class Lease {
   public:
    Lease(StorePool* pool, std::unique_ptr<store::ResultStore> store)
        : pool_(pool), store_(std::move(store)) {}
    ~Lease();
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    store::ResultStore& operator*() const { return *store_; }
    store::ResultStore* operator->() const { return store_.get(); }

   private:
    StorePool* pool_;
    std::unique_ptr<store::ResultStore> store_;
  };

  // A store for this thread until the lease ends; waits while every store is leased.
  Lease Acquire();
  std::mutex& write_mutex() { return write_mutex_; }
  const std::string& path() const { return path_; }

  // Closes every store (they must all be back): the database is checkpointed and closed.
  void Close();

 private:
  void Return(std::unique_ptr<store::ResultStore> store);

  std::string path_;
  std::mutex mutex_, write_mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<store::ResultStore>> idle_;
};

}  // namespace ipfs_accel::server
