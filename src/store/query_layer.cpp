// The typed query layer on DuckDB (query.h): bound parameters, DuckDB's parse tree of a
// statement, and a run bounded in rows and time.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "store/duckdb_result_store.h"

namespace ipfs_accel::store {
namespace {

using core::Error;
using core::ErrorKind;

OnError QueryError(const std::string& path) {
  return {ErrorKind::kInvalidArgument, fmt::format("query on database '{}' failed", path),
          "fix the SQL (tables: runs, hardware_platforms, models, performance_results, "
          "compatibility_results, latest_performance)"};
}

void Bind(Statement& statement, const QueryParam& param) {
  std::visit(
      [&](const auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>)
          statement.AddNull();
        else if constexpr (std::is_same_v<T, bool>)
          statement.AddBool(value);
        else if constexpr (std::is_same_v<T, int64_t>)
          statement.AddInt(value);
        else if constexpr (std::is_same_v<T, double>)
          statement.AddDouble(value);
        else if constexpr (std::is_same_v<T, std::string>)
          statement.AddText(value);
        else
          statement.AddTextList(value);
      },
      param);
}

// The first word of `sql` past blanks, comments and parentheses, upper case: for messages only.
std::string FirstKeyword(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size()) {
    if (std::isspace(static_cast<unsigned char>(sql[i])) || sql[i] == '(') {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      i = std::min(sql.size(), sql.find('\n', i));
    } else if (sql.substr(i, 2) == "/*") {
      const size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else {
      break;
    }
  }
  std::string word;
  for (; i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])); ++i)
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i])));
  return word;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Every function name and base table name in a parse tree of json_serialize_sql. DuckDB limits
// expression depth (max_expression_depth, 1000), so the recursion is bounded.
void CollectNames(const nlohmann::json& node, StatementShape& shape) {
  if (node.is_object()) {
    const auto name = node.find("function_name");
    if (name != node.end() && name->is_string()) shape.functions.push_back(Lower(*name));
    const auto type = node.find("type");
    const auto table = node.find("table_name");
    if (type != node.end() && *type == "BASE_TABLE" && table != node.end() && table->is_string())
      shape.tables.push_back(*table);
  }
  if (node.is_structured())
    for (const auto& child : node) CollectNames(child, shape);
}

// Interrupts the connection's running statement once `timeout_s` has passed, unless destroyed
// first.
class Watchdog {
 public:
  Watchdog(duckdb_connection con, double timeout_s) {
    thread_ = std::thread([this, con, timeout_s] {
      std::unique_lock lock(mutex_);
      const auto limit = std::chrono::duration<double>(timeout_s);
      if (!done_cv_.wait_for(lock, limit, [this] { return done_; })) {
        fired_ = true;
        duckdb_interrupt(con);
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  bool fired() {
    std::lock_guard lock(mutex_);
    return fired_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false, fired_ = false;
  std::thread thread_;
};

}  // namespace

QueryResult DuckDbResultStore::Query(const std::string& sql,
                                     const std::vector<QueryParam>& params) {
  const OnError on_error = QueryError(path_);
  Statement statement(con_->get(), sql, on_error);
  if (duckdb_nparams(statement.get()) != params.size())
    throw Error(ErrorKind::kInternal,
                fmt::format("bug: a statement with {} parameters was given {} values: {}",
                            duckdb_nparams(statement.get()), params.size(), core::OneLine(sql)));
  for (const QueryParam& param : params) Bind(statement, param);
  Result result = statement.Execute(on_error);
  return ReadAsText(result);
}

StatementShape DuckDbResultStore::Inspect(const std::string& sql) {
  StatementShape shape;
  shape.first_keyword = FirstKeyword(sql);
  // DuckDB's statement splitter expands IMPORT DATABASE by reading the folder's schema.sql: the
  // one statement whose parsing touches a file, so it is not handed to the parser at all.
  if (shape.first_keyword == "IMPORT") {
    shape.statements = 1;
    return shape;
  }
  duckdb_extracted_statements extracted = nullptr;
  shape.statements = duckdb_extract_statements(con_->get(), sql.c_str(), &extracted);
  const char* error = shape.statements == 0 ? duckdb_extract_statements_error(extracted) : nullptr;
  const std::string message = error ? error : "";
  duckdb_destroy_extracted(&extracted);
  if (!message.empty())
    ThrowDuckDbError({ErrorKind::kInvalidArgument, "the SQL does not parse", "fix the SQL"},
                     message, DUCKDB_ERROR_PARSER);
  if (shape.statements != 1) return shape;
  // DuckDB serialises the parse tree of query statements only; anything else is an error here.
  const QueryResult tree = Query("SELECT json_serialize_sql(CAST($1 AS VARCHAR))", {sql});
  const nlohmann::json parsed =
      nlohmann::json::parse(tree.rows.at(0).at(0).value_or("{}"), nullptr, false);
  if (!parsed.is_object() || parsed.value("error", true)) return shape;
  shape.is_query = true;
  CollectNames(parsed.value("statements", nlohmann::json::array()), shape);
  return shape;
}

LimitedQueryResult DuckDbResultStore::QueryLimited(const std::string& sql,
                                                   const QueryLimits& limits) {
  const OnError on_error = QueryError(path_);
  Statement statement(con_->get(), sql, on_error);
  const auto timed_out = [&] {
    return QueryTimedOut(
        fmt::format("the query ran past the {:g} s limit and was stopped; "
                    "narrow it (WHERE, LIMIT) or aggregate",
                    limits.timeout_s));
  };
  Watchdog watchdog(con_->get(), limits.timeout_s);
  LimitedQueryResult out;
  try {
    Result result = statement.ExecuteStreaming(on_error);
    out.result = ReadAsText(result, limits.max_rows, &out.truncated);
  } catch (const Error&) {
    if (watchdog.fired()) throw timed_out();
    throw;
  }
  // An interrupt while rows are fetched ends the stream early without an error.
  if (watchdog.fired()) throw timed_out();
  return out;
}

void DuckDbResultStore::DisableExternalAccess() {
  Run(con_->get(), "SET enable_external_access = false",
      {ErrorKind::kDatabase, fmt::format("locking database '{}' to its own file", path_),
       "report this"});
}

}  // namespace ipfs_accel::store
