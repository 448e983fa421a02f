#include "ipfs_accel/server/store_pool.h"

#include <algorithm>

namespace ipfs_accel::server {

StorePool::StorePool(const std::string& path, size_t size, const store::OpenOptions& options)
    : path_(path) {
  for (size_t i = 0; i < std::max<size_t>(size, 1); ++i)
    idle_.push_back(store::ResultStore::Open(path, options));
  // Each one: a PostgreSQL store's working copy is a database of its own (a DuckDB file's
  // stores share one, where a second call changes nothing).
  for (const auto& store : idle_) store->DisableExternalAccess();
}

StorePool::~StorePool() { Close(); }

StorePool::Lease::~Lease() {
  if (store_) pool_->Return(std::move(store_));
}

StorePool::Lease StorePool::Acquire() {
  std::unique_lock lock(mutex_);
  returned_.wait(lock, [this] { return !idle_.empty(); });
  std::unique_ptr<store::ResultStore> store = std::move(idle_.back());
  idle_.pop_back();
  return Lease(this, std::move(store));
}

void StorePool::Return(std::unique_ptr<store::ResultStore> store) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(store));
  }
  returned_.notify_one();
}

void StorePool::Close() {
  std::lock_guard lock(mutex_);
  idle_.clear();
}

}  // namespace ipfs_accel::server
