#include "store/parallel_insert.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>

#include "ipfs_accel/core/error.h"
#include "support/catch_error.h"

namespace ipfs_accel::store {
namespace parallel_insert_test {

using core::Error;
using core::ErrorKind;
using T = ChunkWriter::Type;

class ParallelInsertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(duckdb_open(nullptr, &db_), DuckDBSuccess);
    ASSERT_EQ(duckdb_connect(db_, &con_), DuckDBSuccess);
    RegisterParallelInsert(con_, on_error_);
    store::Run(
        con_,
        "CREATE TABLE t (id BIGINT NOT NULL, x DOUBLE CHECK (x >= 0), s VARCHAR, l DOUBLE[], "
        "n INTEGER)",
        on_error_);
  }
  void TearDown() override {
    duckdb_disconnect(&con_);
    duckdb_close(&db_);
  }
  std::string Cell(const std::string& sql) {
    Result r = store::Run(con_, sql, on_error_);
    char* text = duckdb_value_varchar(r.get(), 0, 0);
    std::string out = text ? text : "NULL";
    duckdb_free(text);
    return out;
  }
  // Row i: id i, x i/2, s "r<i>", l [i, i+1], n i for even i (NULL for odd).
  static void Fill(size_t first, size_t count, ChunkWriter& out) {
    for (size_t i = first; i < first + count; ++i) {
      out.Int(0, static_cast<int64_t>(i));
      out.Double(1, static_cast<double>(i) / 2);
      out.Text(2, fmt::format("r{}", i));
      out.Doubles(3, {static_cast<double>(i), static_cast<double>(i) + 1});
      if (i % 2 == 0)
        out.Int(4, static_cast<int64_t>(i));
      else
        out.Null(4);
      out.EndRow();
    }
  }

  duckdb_database db_ = nullptr;
  duckdb_connection con_ = nullptr;
  OnError on_error_{ErrorKind::kDatabase, "test insert", "hint"};
  const std::vector<T> types_{T::kBigInt, T::kDouble, T::kVarchar, T::kDoubleList, T::kInteger};
};

TEST_F(ParallelInsertTest, RepeatedAndAlternatingTextsLandAsWritten) {
  // Texts past DuckDB's 12 inlined bytes, repeated row after row, then changing, then NULL,
  // then the same again: the writer reuses the row above's text only when it is that text.
  const std::vector<std::optional<std::string>> texts = {"CPUExecutionProvider",
                                                         "CPUExecutionProvider",
                                                         "CUDAExecutionProvider",
                                                         "CPUExecutionProvider",
                                                         std::nullopt,
                                                         "CPUExecutionProvider",
                                                         "short",
                                                         "short",
                                                         "CPUExecutionProvider"};
  ParallelInsert(
      con_, "t", types_, texts.size(),
      [&](size_t first, size_t count, ChunkWriter& out) {
        for (size_t i = first; i < first + count; ++i) {
          out.Int(0, static_cast<int64_t>(i));
          out.Double(1, 0);
          out.Optional(2, texts[i]);
          out.Doubles(3, {});
          out.Null(4);
          out.EndRow();
        }
      },
      on_error_);
  EXPECT_EQ(Cell("SELECT string_agg(coalesce(s, 'NULL'), ',' ORDER BY id) FROM t"),
            "CPUExecutionProvider,CPUExecutionProvider,CUDAExecutionProvider,"
            "CPUExecutionProvider,NULL,CPUExecutionProvider,short,short,CPUExecutionProvider");
}

TEST_F(ParallelInsertTest, ARowWithAColumnLeftUnsetFailsTheInsert) {
  const Error e = testing::CatchError([&] {
    ParallelInsert(
        con_, "t", types_, 3,
        [&](size_t first, size_t count, ChunkWriter& out) {
          for (size_t i = first; i < first + count; ++i) {
            out.Int(0, static_cast<int64_t>(i));
            out.Double(1, 0);
            out.Text(2, "x");
            out.Doubles(3, {});
            out.EndRow();  // column 4 never set
          }
        },
        on_error_);
  });
  EXPECT_NE(std::string(e.what()).find("ended with 4 of them set"), std::string::npos) << e.what();
  EXPECT_EQ(Cell("SELECT count(*) FROM t"), "0");
}

TEST_F(ParallelInsertTest, InsertsEveryRowOnceWithItsValues) {
  constexpr size_t kRows = 10000;  // five of DuckDB's 2048-row chunks
  std::atomic<int> calls{0};
  ParallelInsert(
      con_, "t", types_, kRows,
      [&](size_t first, size_t count, ChunkWriter& out) {
        ++calls;
        Fill(first, count, out);
      },
      on_error_);
  EXPECT_EQ(calls.load(), 5);
  EXPECT_EQ(Cell("SELECT format('{} {} {}', count(*), count(DISTINCT id), sum(id)) FROM t"),
            fmt::format("{} {} {}", kRows, kRows, kRows * (kRows - 1) / 2));
  EXPECT_EQ(Cell("SELECT count(*) FROM t WHERE x <> id / 2 OR s <> 'r' || id OR "
                 "l <> [id::DOUBLE, id + 1] OR (n IS NULL) <> (id % 2 = 1) OR n <> id"),
            "0");
  EXPECT_EQ(Cell("SELECT format('{} {} {} {}', x, s, l, coalesce(n::VARCHAR, 'NULL')) FROM t WHERE "
                 "id = 4097"),
            "2048.5 r4097 [4097.0, 4098.0] NULL");
}

// More rows than one claim (a row group, 122,880 rows): threads take claims of their own, and
// every row still lands once.
TEST_F(ParallelInsertTest, RowsOfSeveralRowGroupsLandOnceEach) {
  constexpr size_t kRows = 300000;
  std::atomic<size_t> filled{0};
  ParallelInsert(
      con_, "t", types_, kRows,
      [&](size_t first, size_t count, ChunkWriter& out) {
        filled += count;
        Fill(first, count, out);
      },
      on_error_);
  EXPECT_EQ(filled.load(), kRows);
  EXPECT_EQ(Cell("SELECT format('{} {} {} {}', count(*), count(DISTINCT id), min(id), max(id)) "
                 "FROM t"),
            fmt::format("{} {} 0 {}", kRows, kRows, kRows - 1));
  EXPECT_EQ(Cell("SELECT count(*) FROM t WHERE x <> id / 2 OR s <> 'r' || id OR "
                 "l <> [id::DOUBLE, id + 1]"),
            "0");
}

TEST_F(ParallelInsertTest, AFillerThatThrowsFailsTheWholeInsert) {
  const auto fill = [](size_t first, size_t count, ChunkWriter& out) {
    if (first + count > 6000) throw std::runtime_error("row 6000 is broken");
    Fill(first, count, out);
  };
  try {
    ParallelInsert(con_, "t", types_, 10000, fill, on_error_);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDatabase);
    EXPECT_NE(std::string(e.what()).find("row 6000 is broken"), std::string::npos) << e.what();
  }
  EXPECT_EQ(Cell("SELECT count(*) FROM t"), "0");
}

TEST_F(ParallelInsertTest, AConstraintViolationFailsTheWholeInsert) {
  const auto fill = [](size_t first, size_t count, ChunkWriter& out) {
    for (size_t i = first; i < first + count; ++i) {
      out.Int(0, static_cast<int64_t>(i));
      out.Double(1, i == 7000 ? -1.0 : 1.0);
      out.Text(2, "x");
      out.Doubles(3, {});
      out.Null(4);
      out.EndRow();
    }
  };
  const Error e =
      testing::CatchError([&] { ParallelInsert(con_, "t", types_, 9000, fill, on_error_); });
  EXPECT_NE(std::string(e.what()).find("CHECK"), std::string::npos) << e.what();
  EXPECT_EQ(Cell("SELECT count(*) FROM t"), "0");
}

TEST_F(ParallelInsertTest, TheLastColumnsCanBeComputedByDuckDbFromTheFilledOnes) {
  store::Run(con_, "CREATE TABLE k (id BIGINT, x DOUBLE, twice DOUBLE, h UBIGINT)", on_error_);
  ParallelInsert(con_, "k", {T::kBigInt, T::kDouble}, 5000,
                 [](size_t first, size_t count, ChunkWriter& out) {
                   for (size_t i = first; i < first + count; ++i) {
                     out.Int(0, static_cast<int64_t>(i));
                     out.Double(1, static_cast<double>(i));
                     out.EndRow();
                   }
                 },
                 on_error_, {"x * 2", "hash(id)"});
  EXPECT_EQ(Cell("SELECT count(*) FROM k WHERE twice = 2 * id AND h = hash(id)"), "5000");
}

TEST_F(ParallelInsertTest, ColumnsOfOtherTypesAreRefusedBeforeAnythingRuns) {
  bool called = false;
  try {
    ParallelInsert(
        con_, "t", {T::kBigInt, T::kDouble, T::kVarchar, T::kDoubleList, T::kDouble}, 10,
        [&](size_t, size_t, ChunkWriter&) { called = true; }, on_error_);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
  }
  EXPECT_FALSE(called);
}

TEST_F(ParallelInsertTest, TheSessionKeepsInsertionOrderAfterwards) {
  ParallelInsert(con_, "t", types_, 3000, Fill, on_error_);
  EXPECT_EQ(Cell("SELECT current_setting('preserve_insertion_order')"), "true");
  EXPECT_THROW(ParallelInsert(
                   con_, "t", types_, 3000,
                   [](size_t, size_t, ChunkWriter&) { throw std::runtime_error("no"); }, on_error_),
               Error);
  EXPECT_EQ(Cell("SELECT current_setting('preserve_insertion_order')"), "true");
}

TEST_F(ParallelInsertTest, ACallWithATokenOfNoInsertIsRefused) {
  duckdb_result r;
  EXPECT_EQ(duckdb_query(con_, "SELECT * FROM ipfs_accel_parallel_rows(123456789)", &r),
            DuckDBError);
  EXPECT_NE(std::string(duckdb_result_error(&r)).find("no insert in progress"), std::string::npos);
  duckdb_destroy_result(&r);
}

TEST_F(ParallelInsertTest, RegisteringTwiceOnOneDatabaseIsHarmless) {
  duckdb_connection other = nullptr;
  ASSERT_EQ(duckdb_connect(db_, &other), DuckDBSuccess);
  EXPECT_NO_THROW(RegisterParallelInsert(other, on_error_));
  EXPECT_NO_THROW(RegisterParallelInsert(con_, on_error_));
  duckdb_disconnect(&other);
  ParallelInsert(con_, "t", types_, 100, Fill, on_error_);
  EXPECT_EQ(Cell("SELECT count(*) FROM t"), "100");
}

}  // namespace parallel_insert_test
}  // namespace ipfs_accel::store
