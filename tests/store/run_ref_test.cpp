// Run refs: a whole id, a unique prefix, latest and latest~N, each error with what to do.

#include "ipfs_accel/store/run_ref.h"

#include <gtest/gtest.h>

#include "support/catch_error.h"
#include "support/stored_runs.h"
#include "support/temp_dir.h"

namespace ipfs_accel::store {
namespace run_ref_test {

class RunRefTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = ResultStore::Open(dir_.File("r.duckdb"));
    // Oldest first; two ids share the prefix "abcd1".
    store_->WriteRun(testing::StoredRun("abcd1111-0000", "2026-11-20T10:00:00Z", "c1", "main"));
    store_->WriteRun(testing::StoredRun("abcd1222-0000", "2026-11-21T10:00:00Z", "c2", "main"));
    store_->WriteRun(testing::StoredRun("ef001234-0000", "2026-11-22T10:00:00Z", "c3", "main"));
  }
  std::string Message(const std::string& ref, core::ErrorKind kind) {
    const core::Error e = testing::CatchError([&] { ResolveRunRef(*store_, ref); });
    EXPECT_EQ(e.kind(), kind) << ref << ": " << e.what();
    return e.what();
  }
  testing::TempDir dir_;
  std::unique_ptr<ResultStore> store_;
};

TEST_F(RunRefTest, AcceptsAWholeIdAUniquePrefixLatestAndLatestTildeN) {
  EXPECT_EQ(ResolveRunRef(*store_, "abcd1222-0000"), "abcd1222-0000");
  EXPECT_EQ(ResolveRunRef(*store_, "ef00"), "ef001234-0000");
  EXPECT_EQ(ResolveRunRef(*store_, "abcd12"), "abcd1222-0000");
  EXPECT_EQ(ResolveRunRef(*store_, "latest"), "ef001234-0000");
  EXPECT_EQ(ResolveRunRef(*store_, "latest~0"), "ef001234-0000");
  EXPECT_EQ(ResolveRunRef(*store_, "latest~1"), "abcd1222-0000");
  EXPECT_EQ(ResolveRunRef(*store_, "latest~2"), "abcd1111-0000");
}

TEST_F(RunRefTest, AnAmbiguousPrefixListsTheRunsItStarts) {
  const std::string m = Message("abcd1", core::ErrorKind::kInvalidArgument);
  EXPECT_NE(m.find("ambiguous"), std::string::npos) << m;
  EXPECT_NE(m.find("abcd1111-0000 (2026-11-20 10:00:00Z)"), std::string::npos) << m;
  EXPECT_NE(m.find("abcd1222-0000"), std::string::npos) << m;
}

TEST_F(RunRefTest, UnknownShortAndOutOfRangeRefsSayWhatToDo) {
  EXPECT_NE(Message("9999", core::ErrorKind::kNotFound).find("runs list"), std::string::npos);
  EXPECT_NE(Message("ab", core::ErrorKind::kInvalidArgument).find("at least 4"), std::string::npos);
  const std::string past = Message("latest~3", core::ErrorKind::kInvalidArgument);
  EXPECT_NE(past.find("holds 3 run(s), latest to latest~2"), std::string::npos) << past;
  EXPECT_NE(Message("latest~x", core::ErrorKind::kInvalidArgument).find("whole number"),
            std::string::npos);
  Message("latest~-1", core::ErrorKind::kInvalidArgument);
  Message("", core::ErrorKind::kInvalidArgument);
  // A prefix that is not of a run: FindRunRef leaves it to the caller (a branch, a commit).
  EXPECT_FALSE(FindRunRef(*store_, "main").has_value());

  testing::TempDir empty;
  auto none = ResultStore::Open(empty.File("e.duckdb"));
  const core::Error e = testing::CatchError([&] { ResolveRunRef(*none, "latest"); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kNotFound);
}

}  // namespace run_ref_test
}  // namespace ipfs_accel::store
