// The typed query layer (query.h): bound parameters of every type, DuckDB's parse tree of a
// statement, runs bounded in rows and time, and rows as JSON with numbers as numbers.

#include <gtest/gtest.h>

#include "ipfs_accel/store/query.h"
#include "ipfs_accel/store/result_store.h"
#include "support/catch_error.h"

namespace ipfs_accel::store {
namespace query_layer_test {

using core::ErrorKind;

class QueryLayerTest : public ::testing::Test {
 protected:
  std::unique_ptr<ResultStore> store_ = ResultStore::Open(":memory:");
};

TEST_F(QueryLayerTest, BindsEveryParameterTypeAsAValueNeverAsSql) {
  const QueryResult r =
      store_->Query("SELECT ?::VARCHAR AS t, ? AS i, ? AS d, ? AS b, ? IS NULL AS n, len(?) AS l",
                    {std::string("x' OR '1'='1"), int64_t{42}, 2.5, true, nullptr,
                     std::vector<std::string>{"a", "b'c"}});
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0][0], "x' OR '1'='1");
  EXPECT_EQ(r.rows[0][1], "42");
  EXPECT_EQ(r.rows[0][2], "2.5");
  EXPECT_EQ(r.rows[0][3], "true");
  EXPECT_EQ(r.rows[0][4], "true");
  EXPECT_EQ(r.rows[0][5], "2");
  EXPECT_EQ(store_->Query("SELECT list_contains($1, 'b''c')", {std::vector<std::string>{"b'c"}})
                .rows[0][0],
            "true");
  EXPECT_EQ(testing::CatchError([&] { store_->Query("SELECT ?", {}); }).kind(),
            ErrorKind::kInternal);
}

TEST_F(QueryLayerTest, InspectSeesStatementKindsFunctionsAndTablesWithoutRunningThem) {
  const StatementShape select = store_->Inspect(
      "WITH x AS (SELECT upper(name) FROM models) SELECT * FROM x, read_csv('/nonexistent') "
      "JOIN 'data.parquet' ON TRUE");
  EXPECT_EQ(select.statements, 1u);
  EXPECT_TRUE(select.is_query);
  EXPECT_NE(std::find(select.functions.begin(), select.functions.end(), "read_csv"),
            select.functions.end());
  EXPECT_NE(std::find(select.functions.begin(), select.functions.end(), "upper"),
            select.functions.end());
  EXPECT_NE(std::find(select.tables.begin(), select.tables.end(), "data.parquet"),
            select.tables.end());
  const StatementShape insert = store_->Inspect("/* c */ INSERT INTO models VALUES (1)");
  EXPECT_FALSE(insert.is_query);
  EXPECT_EQ(insert.first_keyword, "INSERT");
  EXPECT_EQ(store_->Inspect("SELECT 1; SELECT 2").statements, 2u);
  EXPECT_FALSE(store_->Inspect("ATTACH 'x.db'").is_query);
  EXPECT_FALSE(store_->Inspect("COPY models TO 'x.csv'").is_query);
  EXPECT_EQ(testing::CatchError([&] { store_->Inspect("SELEC 1"); }).kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(store_->Query("SELECT count(*) FROM models").rows[0][0], "0");
}

TEST_F(QueryLayerTest, QueryLimitedStopsAtTheRowLimitAndTheTimeLimit) {
  const LimitedQueryResult cut = store_->QueryLimited("SELECT * FROM range(5000)", {10, 30});
  EXPECT_EQ(cut.result.rows.size(), 10u);
  EXPECT_TRUE(cut.truncated);
  const LimitedQueryResult whole = store_->QueryLimited("SELECT * FROM range(10)", {10, 30});
  EXPECT_FALSE(whole.truncated);
  EXPECT_THROW(store_->QueryLimited("SELECT count(*) FROM range(1000000000000)", {10, 0.2}),
               QueryTimedOut);
  EXPECT_EQ(store_->Query("SELECT 7").rows[0][0], "7");  // the connection still works
}

TEST_F(QueryLayerTest, RowsAsJsonKeepNumbersBooleansJsonAndNulls) {
  const QueryResult r = store_->Query(
      "SELECT 1::BIGINT AS i, 2.5::DOUBLE AS d, 'inf'::DOUBLE AS inf, 3.10::DECIMAL(4,2) AS dec, "
      "true AS b, '{\"a\": 1}'::JSON AS j, [1.5, 2.0] AS l, NULL::INTEGER AS n, '7' AS s");
  const nlohmann::ordered_json row = QueryRowsToJson(r).at(0);
  EXPECT_EQ(row["i"], 1);
  EXPECT_EQ(row["d"], 2.5);
  EXPECT_EQ(row["inf"], "inf");
  EXPECT_EQ(row["dec"], 3.1);
  EXPECT_EQ(row["b"], true);
  EXPECT_EQ(row["j"]["a"], 1);
  EXPECT_EQ(row["l"], nlohmann::ordered_json::array({1.5, 2.0}));
  EXPECT_TRUE(row["n"].is_null());
  EXPECT_EQ(row["s"], "7");
  EXPECT_EQ(row.begin().key(), "i");  // column order kept
}

}  // namespace query_layer_test
}  // namespace ipfs_accel::store
