// The server's pool of result stores: every store it leases reads no file, on a DuckDB file and
// on a PostgreSQL server alike (each PostgreSQL store works on a DuckDB copy of its own).

#include "ipfs_accel/server/store_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ipfs_accel/core/error.h"
#include "support/catch_error.h"
#include "support/postgres_cluster.h"
#include "support/temp_dir.h"

namespace ipfs_accel::server {
namespace store_pool_test {

using ::testing::HasSubstr;

// Leases every store of the pool at once and has each one try to read a file.
void ExpectNoStoreReadsFiles(const std::string& db) {
  constexpr size_t kStores = 3;
  StorePool pool(db, kStores, {});
  std::vector<StorePool::Lease> leases;
  for (size_t i = 0; i < kStores; ++i) leases.push_back(pool.Acquire());
  for (size_t i = 0; i < kStores; ++i) {
    const core::Error e = testing::CatchError(
        [&] { leases[i]->Query("SELECT * FROM read_csv('" IPFS_ACCEL_SOURCE_DIR "/README.md')"); });
    EXPECT_THAT(e.what(), HasSubstr("disabled")) << "store " << i << " of " << db;
  }
}

TEST(StorePoolTest, NoStoreOfAPoolOnADuckDbFileReadsFiles) {
  testing::TempDir dir;
  ExpectNoStoreReadsFiles(dir.File("bench.duckdb"));
}

TEST(StorePoolTest, NoStoreOfAPoolOnAPostgreSqlServerReadsFiles) {
  testing::PostgresCluster cluster;
  ExpectNoStoreReadsFiles(cluster.NewDatabase());
}

}  // namespace store_pool_test
}  // namespace ipfs_accel::server
