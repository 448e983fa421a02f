// ResultStore on a PostgreSQL server through an in-memory DuckDB working copy (postgres_store.h).

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <pqxx/pqxx>

#include <cctype>
#include <functional>
#include <map>

#include "ipfs_accel/store/postgres_store.h"
#include "store/duckdb_result_store.h"
#include "store/table_shapes.h"

namespace ipfs_accel::store {
namespace {

using core::Error;
using core::ErrorKind;
using TextRows = std::vector<std::vector<std::optional<std::string>>>;

// pg_advisory_xact_lock key that serialises the store's writers: "ipfsacc" in ASCII.
constexpr int64_t kWriterLock = 0x69706673616363;
constexpr const char* kGenerationTable = "ipfs_accel_store_generation";
constexpr size_t kBatchRows = 5000;

// Session settings under which PostgreSQL's text output is what DuckDB's casts read back.
constexpr const char* kSessionSettings =
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1; "
    "SET client_min_messages = 'warning'";

std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return line;
}

// Runs `body`, turning libpqxx's exceptions into core::Error.
template <typename Body>
auto Guarded(const std::string& url, const std::string& what, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const pqxx::broken_connection& e) {
    throw Error(ErrorKind::kUnavailable,
                fmt::format("{}: the connection to PostgreSQL at '{}' was lost ({}); nothing "
                            "was written; check the server and retry",
                            what, RedactedUrl(url), FirstLine(e.what())));
  } catch (const pqxx::in_doubt_error& e) {
    throw Error(ErrorKind::kUnavailable,
                fmt::format("{}: the connection to PostgreSQL at '{}' was lost at commit ({}); "
                            "check with `runs` whether it was stored before retrying",
                            what, RedactedUrl(url), FirstLine(e.what())));
  } catch (const pqxx::sql_error& e) {
    throw Error(ErrorKind::kDatabase, fmt::format("{}: PostgreSQL at '{}' refused: {}", what,
                                                  RedactedUrl(url), FirstLine(e.what())));
  } catch (const pqxx::failure& e) {
    throw Error(ErrorKind::kDatabase, fmt::format("{}: PostgreSQL at '{}': {}", what,
                                                  RedactedUrl(url), FirstLine(e.what())));
  }
}

std::unique_ptr<pqxx::connection> ConnectTo(const std::string& url) {
  try {
    auto connection = std::make_unique<pqxx::connection>(url);
    pqxx::nontransaction settings(*connection);
    settings.exec(kSessionSettings);
    return connection;
  } catch (const std::exception& e) {
    throw Error(ErrorKind::kUnavailable,
                fmt::format("cannot connect to PostgreSQL at '{}' ({}); check the URL and that "
                            "the server runs",
                            RedactedUrl(url), FirstLine(e.what())));
  }
}

std::string Columns(const TableShape& table, const std::function<std::string(size_t)>& each) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < table.columns.size(); ++i) parts.push_back(each(i));
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string KeyList(const TableShape& table, const std::string& prefix = "") {
  std::vector<std::string> parts;
  for (const auto& k : table.key) parts.push_back(prefix + QuoteIdent(k));
  return fmt::format("{}", fmt::join(parts, ", "));
}

const ColumnShape& ColumnNamed(const TableShape& table, const std::string& name) {
  for (const auto& c : table.columns)
    if (c.name == name) return c;
  throw Error(ErrorKind::kInternal, fmt::format("table {} has no column {}", table.name, name));
}

// Rows as a JSON array of objects {column: text or null} for json_populate_recordset.
std::string RowsAsJson(const std::vector<std::string>& names, const QueryResult& rows, size_t first,
                       size_t count) {
  nlohmann::json array = nlohmann::json::array();
  for (size_t r = first; r < first + count; ++r) {
    nlohmann::json object = nlohmann::json::object();
    for (size_t c = 0; c < names.size(); ++c)
      object[names[c]] = rows.rows[r][c] ? nlohmann::json(*rows.rows[r][c]) : nlohmann::json();
    array.push_back(std::move(object));
  }
  return array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Whether a statement that is not a query still leaves the store as it was: COPY ... TO and
// EXPORT DATABASE write files from the copy (db export), not rows.
bool LeavesStoreAsItWas(const StatementShape& shape, std::string_view sql) {
  if (shape.first_keyword == "EXPORT") return true;
  if (shape.first_keyword != "COPY" || shape.statements != 1) return false;
  size_t i = sql.find_first_not_of(" \t\r\n");
  i = sql.find_first_not_of(" \t\r\n", i + 4);  // past COPY
  if (i == std::string_view::npos) return false;
  if (sql[i] == '(') return true;  // COPY (query) TO
  while (i < sql.size() && sql[i] != '(' && sql[i] != ' ' && sql[i] != '\t' && sql[i] != '\n')
    ++i;  // the table's name
  i = sql.find_first_not_of(" \t\r\n", i);
  if (i != std::string_view::npos && sql[i] == '(') {  // a column list
    i = sql.find(')', i);
    if (i != std::string_view::npos) i = sql.find_first_not_of(" \t\r\n", i + 1);
  }
  if (i == std::string_view::npos || i + 2 > sql.size()) return false;
  const std::string_view word = sql.substr(i, 2);
  return (word == "TO" || word == "to" || word == "To" || word == "tO") &&
         (i + 2 == sql.size() || !std::isalnum(static_cast<unsigned char>(sql[i + 2])));
}

class PostgresStore final : public PostgresResultStore {
 public:
  PostgresStore(std::string url, bool read_only) : url_(std::move(url)), read_only_(read_only) {}

  void Initialize() {
    connection_ = ConnectTo(url_);
    copy_ = DuckDbResultStore::Open(":memory:", {});
    tables_ = ReadTableShapes(*copy_);
    Guarded(url_, "opening the results store", [&] {
      pqxx::work txn(*connection_);
      if (!read_only_) txn.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kWriterLock));
      const bool exists = !txn.exec("SELECT to_regclass('schema_version')")[0][0].is_null();
      if (!exists) {
        if (read_only_)
          throw Error(ErrorKind::kNotFound,
                      fmt::format("PostgreSQL at '{}' holds no results store; store a run there "
                                  "first (benchmark --db URL, or db push)",
                                  RedactedUrl(url_)));
        CreateSchema(txn, tables_, *copy_);
      } else {
        const int version =
            txn.exec("SELECT COALESCE(max(version), 0) FROM schema_version")[0][0].as<int>();
        if (version > CurrentSchemaVersion())
          throw Error(ErrorKind::kDatabase,
                      fmt::format("the results store at '{}' has schema version {}, newer than "
                                  "this tool's {}; upgrade ipfs-accelerate",
                                  RedactedUrl(url_), version, CurrentSchemaVersion()));
        if (version < CurrentSchemaVersion()) {
          if (read_only_)
            throw Error(ErrorKind::kDatabase,
                        fmt::format("the results store at '{}' has schema version {}, older than "
                                    "this tool's {}; open it once read-write (any command that "
                                    "stores) to migrate it",
                                    RedactedUrl(url_), version, CurrentSchemaVersion()));
          Upgrade(txn, version);
        }
      }
      txn.commit();
    });
  }

  int SchemaVersion() override {
    RefreshForRead();
    return copy_->SchemaVersion();
  }

  void WriteRun(const RunResults& results) override { WriteRuns({&results}); }
  void WriteRuns(const std::vector<const RunResults*>& runs) override {
    WriteThrough("writing runs", [&] { copy_->WriteRuns(runs); });
  }
  void WriteRunIf(const RunResults& results, const CommitCondition& condition) override {
    WriteThrough(
        "writing a run", [&] { copy_->WriteRun(results); }, &condition);
  }
  void BeginRun(const RunRecord& run) override {
    WriteThrough("beginning a run", [&] { copy_->BeginRun(run); });
  }
  void AppendToRun(const RunResults& part) override {
    WriteThrough("appending to a run", [&] { copy_->AppendToRun(part); });
  }
  void FinishRun(const std::string& run_id, const std::string& finished_at,
                 const std::string& state) override {
    WriteThrough("finishing a run", [&] { copy_->FinishRun(run_id, finished_at, state); });
  }
  void WriteTemplates(const std::vector<TemplateRecord>& templates,
                      const std::string& git_commit) override {
    WriteThrough("storing templates", [&] { copy_->WriteTemplates(templates, git_commit); });
  }
  void WriteTemplateValidations(const std::vector<TemplateValidationRecord>& outcomes) override {
    WriteThrough("storing validations", [&] { copy_->WriteTemplateValidations(outcomes); });
  }
  void WritePredictionModel(const PredictionModelRecord& model) override {
    WriteThrough("storing a predictor", [&] { copy_->WritePredictionModel(model); });
  }
  void WritePredictions(const std::vector<PredictionRecord>& predictions) override {
    WriteThrough("storing predictions", [&] { copy_->WritePredictions(predictions); });
  }

  // A statement that is not a query changes the store: it runs as a write.
  QueryResult Query(const std::string& sql) override {
    RefreshForRead();
    if (sql.find_first_not_of(" \t\n") == std::string::npos) return copy_->Query(sql);
    const StatementShape shape = copy_->Inspect(sql);
    if (shape.is_query || LeavesStoreAsItWas(shape, sql)) return copy_->Query(sql);
    return Statement([&] { return copy_->Query(sql); });
  }
  QueryResult Query(const std::string& sql, const std::vector<QueryParam>& params) override {
    RefreshForRead();
    if (copy_->Inspect(sql).is_query) return copy_->Query(sql, params);
    return Statement([&] { return copy_->Query(sql, params); });
  }
  StatementShape Inspect(const std::string& sql) override { return copy_->Inspect(sql); }
  // A statement that is not a query runs as Query runs it: on the copy alone it would change
  // what the server never sees.
  LimitedQueryResult QueryLimited(const std::string& sql, const QueryLimits& limits) override {
    if (!copy_->Inspect(sql).is_query) return {Query(sql), false};
    RefreshForRead();
    return copy_->QueryLimited(sql, limits);
  }
  void DisableExternalAccess() override { copy_->DisableExternalAccess(); }
  int64_t Reloads() const override { return reloads_; }

 private:
  pqxx::connection& Connection() {
    if (!connection_ || !connection_->is_open()) connection_ = ConnectTo(url_);
    return *connection_;
  }

  // A statement run as a write. Each one is its own transaction on the server: one that leaves
  // a transaction open on the copy (BEGIN without its COMMIT in the same text) is refused, as
  // its later ROLLBACK could not take back what the server already committed.
  QueryResult Statement(const std::function<QueryResult()>& run) {
    QueryResult result;
    WriteThrough(
        "running a statement",
        [&] {
          result = run();
          try {
            copy_->Query("BEGIN TRANSACTION");  // fails inside an open transaction
          } catch (const Error&) {  // WriteThrough rolls the copy back and loads it again
            throw Error(ErrorKind::kUnsupported,
                        fmt::format("a transaction left open is not supported on the PostgreSQL "
                                    "store at '{}' (each statement commits on the server); send "
                                    "BEGIN, the statements and COMMIT in one text",
                                    RedactedUrl(url_)));
          }
          copy_->Query("ROLLBACK");
        },
        nullptr, /*rewrite=*/true);
    return result;
  }

  // `generation` counts every write; `rewrites` those that may have changed or removed rows of
  // an append-only table (statements through Query(), migrations): a copy loads again whole
  // only when `rewrites` moved, else only what was appended.
  struct Generation {
    int64_t generation = -1;
    int64_t rewrites = -1;
  };
  static Generation ReadGeneration(pqxx::transaction_base& txn) {
    const pqxx::row r =
        txn.exec(fmt::format("SELECT generation, rewrites FROM {}", kGenerationTable))[0];
    return {r[0].as<int64_t>(), r[1].as<int64_t>()};
  }

  // A new store: every table of the copy's schema, and the rows the copy holds (its
  // schema_version history).
  static void CreateSchema(pqxx::transaction_base& txn, const std::vector<TableShape>& tables,
                           DuckDbResultStore& copy) {
    for (const TableShape& t : tables) txn.exec(PostgresCreateTable(t));
    txn.exec(fmt::format("CREATE TABLE {} (generation bigint NOT NULL, rewrites bigint NOT NULL)",
                         kGenerationTable));
    txn.exec(fmt::format("INSERT INTO {} VALUES (0, 0)", kGenerationTable));
    for (const TableShape& t : tables)
      InsertRows(txn, t, SelectAsText(copy, t, QuoteIdent(t.name)));
  }

  // An older store: its rows into a copy at its version, the same migration steps a DuckDB file
  // takes, then its tables replaced by the migrated ones, in the caller's transaction.
  void Upgrade(pqxx::transaction_base& txn, int version) {
    const Generation was = ReadGeneration(txn);
    auto old_copy = DuckDbResultStore::OpenInMemoryAt(version);
    const std::vector<TableShape> old_tables = ReadTableShapes(*old_copy);
    LoadTables(txn, *old_copy, old_tables, /*appended_only=*/false);
    old_copy->MigrateToCurrent();
    for (const TableShape& t : old_tables) txn.exec("DROP TABLE " + QuoteIdent(t.name));
    txn.exec(fmt::format("DROP TABLE {}", kGenerationTable));
    CreateSchema(txn, ReadTableShapes(*old_copy), *old_copy);
    txn.exec(fmt::format("UPDATE {} SET generation = {}, rewrites = {}", kGenerationTable,
                         was.generation + 1, was.rewrites + 1));
  }

  static QueryResult SelectAsText(ResultStore& copy, const TableShape& t, const std::string& from) {
    return copy.Query(fmt::format("SELECT {} FROM {}",
                                  Columns(t, [&](size_t i) { return ColumnAsText(t.columns[i]); }),
                                  from));
  }

  static std::vector<std::string> Names(const TableShape& t) {
    std::vector<std::string> names;
    for (const auto& c : t.columns) names.push_back(c.name);
    return names;
  }

  static void InsertRows(pqxx::transaction_base& txn, const TableShape& t,
                         const QueryResult& rows) {
    const std::vector<std::string> names = Names(t);
    for (size_t first = 0; first < rows.rows.size(); first += kBatchRows) {
      const size_t count = std::min(kBatchRows, rows.rows.size() - first);
      txn.exec_params(fmt::format("INSERT INTO {0} SELECT * FROM json_populate_recordset("
                                  "NULL::{0}, $1::json)",
                                  QuoteIdent(t.name)),
                      RowsAsJson(names, rows, first, count));
    }
  }

  // Rows whose key is in `keys` (a result of key columns, as text) are deleted.
  static void DeleteKeys(pqxx::transaction_base& txn, const TableShape& t,
                         const QueryResult& keys) {
    std::vector<std::string> match;
    for (const auto& k : t.key)
      match.push_back(fmt::format("t.{0} IS NOT DISTINCT FROM k.{0}", QuoteIdent(k)));
    for (size_t first = 0; first < keys.rows.size(); first += kBatchRows) {
      const size_t count = std::min(kBatchRows, keys.rows.size() - first);
      txn.exec_params(fmt::format("DELETE FROM {0} AS t USING json_populate_recordset(NULL::{0}, "
                                  "$1::json) AS k WHERE {1}",
                                  QuoteIdent(t.name), fmt::join(match, " AND ")),
                      RowsAsJson(t.key, keys, first, count));
    }
  }

  // Every table of PostgreSQL into `copy`, replacing what it held, in one copy transaction;
  // sequences moved past the ids loaded. `appended_only`: append-only tables get only the rows
  // past the highest key the copy holds.
  static void LoadTables(pqxx::transaction_base& txn, DuckDbResultStore& copy,
                         const std::vector<TableShape>& tables, bool appended_only) {
    copy.Query("BEGIN TRANSACTION");
    try {
      for (const TableShape& t : tables) {
        std::optional<std::string> after;
        if (appended_only && AppendOnly(t)) after = HighestKey(copy, t);
        LoadTable(txn, copy, t, after);
      }
      copy.Query("COMMIT");
    } catch (...) {
      try {
        copy.Query("ROLLBACK");
      } catch (...) {
      }
      throw;
    }
  }

  // A table whose single key a sequence fills: the typed writes only ever append to it.
  static bool AppendOnly(const TableShape& t) {
    return t.key.size() == 1 && t.sequences.size() == 1 && t.sequences[0].first == t.key[0];
  }

  static std::string HighestKey(ResultStore& copy, const TableShape& t) {
    const QueryResult r =
        copy.Query(fmt::format("SELECT CAST(COALESCE(max({}), 0) AS BIGINT) FROM {}",
                               QuoteIdent(t.key[0]), QuoteIdent(t.name)));
    return *r.rows[0][0];
  }

  // The table's rows (only those with a key past `after`, when given, added to what the copy
  // holds) from PostgreSQL into the copy.
  static void LoadTable(pqxx::transaction_base& txn, DuckDbResultStore& copy, const TableShape& t,
                        const std::optional<std::string>& after) {
    const std::string staging = QuoteIdent("pg_load_" + t.name);
    if (!after) copy.Query("DELETE FROM " + QuoteIdent(t.name));
    copy.Query(fmt::format("CREATE TEMP TABLE {} ({})", staging,
                           Columns(t, [](size_t i) { return fmt::format("c{} VARCHAR", i); })));
    txn.exec(fmt::format(
        "DECLARE pg_load NO SCROLL CURSOR FOR SELECT {} FROM {}{}",
        Columns(t, [&](size_t i) { return QuoteIdent(t.columns[i].name); }), QuoteIdent(t.name),
        after ? fmt::format(" WHERE {} > {}", QuoteIdent(t.key[0]), txn.quote(*after)) : ""));
    for (;;) {
      const pqxx::result batch = txn.exec(fmt::format("FETCH FORWARD {} FROM pg_load", kBatchRows));
      if (batch.empty()) break;
      TextRows rows(batch.size());
      for (size_t r = 0; r < batch.size(); ++r) {
        rows[r].reserve(t.columns.size());
        for (size_t c = 0; c < t.columns.size(); ++c) {
          const pqxx::field f = batch[static_cast<int>(r)][static_cast<int>(c)];
          rows[r].push_back(f.is_null() ? std::nullopt : std::optional<std::string>(f.c_str()));
        }
      }
      copy.InsertTextRows("pg_load_" + t.name, t.columns.size(), rows);
    }
    txn.exec("CLOSE pg_load");
    copy.Query(fmt::format(
        "INSERT INTO {} ({}) SELECT {} FROM {}", QuoteIdent(t.name),
        Columns(t, [&](size_t i) { return QuoteIdent(t.columns[i].name); }),
        Columns(t, [&](size_t i) { return TextAsColumn(t.columns[i], fmt::format("c{}", i)); }),
        staging));
    copy.Query("DROP TABLE " + staging);
    for (const auto& [column, sequence] : t.sequences) {
      const QueryResult max = copy.Query(fmt::format("SELECT CAST(max({}) AS BIGINT) FROM {}",
                                                     QuoteIdent(column), QuoteIdent(t.name)));
      const QueryResult last = copy.Query(fmt::format(
          "SELECT CAST(last_value AS BIGINT) FROM duckdb_sequences() WHERE sequence_name = '{}'",
          sequence));
      const int64_t high = max.rows[0][0] ? std::stoll(*max.rows[0][0]) : 0;
      const int64_t used = !last.rows.empty() && last.rows[0][0] ? std::stoll(*last.rows[0][0]) : 0;
      if (high > used)
        copy.Query(fmt::format("SELECT max(nextval('{}')) FROM range({})", sequence, high - used));
    }
  }

  // The copy loaded again when another writer changed the store since it was last loaded:
  // whole after a rewrite, else the small tables whole and what was appended to the others.
  void RefreshIn(pqxx::transaction_base& txn) {
    const Generation now = ReadGeneration(txn);
    if (now.generation == loaded_.generation && now.rewrites == loaded_.rewrites) return;
    const bool appended_only = loaded_.rewrites == now.rewrites;
    LoadTables(txn, *copy_, tables_, appended_only);
    loaded_ = now;
    ++reloads_;
  }

  void RefreshForRead() {
    Guarded(url_, "reading the results store", [&] {
      pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> txn(Connection());
      RefreshIn(txn);
      txn.commit();
    });
  }

  // The rows `write` added, changed or removed in the copy, applied to PostgreSQL. Without
  // `rewrite`, an append-only table's new rows are those past its highest key before.
  void ApplyChanges(pqxx::transaction_base& txn, bool rewrite) {
    for (const TableShape& t : tables_) {
      const std::string table = QuoteIdent(t.name);
      if (!rewrite && AppendOnly(t)) {
        InsertRows(txn, t,
                   SelectAsText(*copy_, t,
                                fmt::format("{} WHERE {} > {}", table, QuoteIdent(t.key[0]),
                                            before_highest_.at(t.name))));
        continue;
      }
      const std::string before = QuoteIdent("before_" + t.name);
      if (t.key.empty()) {
        const QueryResult differ = copy_->Query(
            fmt::format("SELECT count(*) FROM ((FROM {0} EXCEPT ALL FROM {1}) UNION ALL "
                        "(FROM {1} EXCEPT ALL FROM {0}))",
                        table, before));
        if (*differ.rows[0][0] == "0") continue;
        txn.exec("DELETE FROM " + table);
        InsertRows(txn, t, SelectAsText(*copy_, t, table));
        continue;
      }
      const std::string keys = KeyList(t);
      const std::string changed = fmt::format("(FROM {} EXCEPT FROM {})", table, before);
      std::vector<std::string> key_text;
      for (const auto& k : t.key) key_text.push_back(ColumnAsText(ColumnNamed(t, k)));
      const QueryResult gone = copy_->Query(
          fmt::format("SELECT {0} FROM ((SELECT {1} FROM {2} EXCEPT SELECT {1} FROM {3}) UNION "
                      "(SELECT {1} FROM {4} INTERSECT SELECT {1} FROM {2}))",
                      fmt::join(key_text, ", "), keys, before, table, changed));
      if (!gone.rows.empty()) DeleteKeys(txn, t, gone);
      InsertRows(txn, t, SelectAsText(*copy_, t, changed));
    }
  }

  // What ApplyChanges compares with: each table as it was (an append-only one's highest key
  // only, unless `rewrite`).
  void TakeSnapshot(bool rewrite) {
    for (const TableShape& t : tables_) {
      if (!rewrite && AppendOnly(t)) {
        before_highest_[t.name] = HighestKey(*copy_, t);
        continue;
      }
      copy_->Query(fmt::format("CREATE OR REPLACE TEMP TABLE {} AS FROM {}",
                               QuoteIdent("before_" + t.name), QuoteIdent(t.name)));
    }
  }
  void DropSnapshot() {
    for (const TableShape& t : tables_)
      copy_->Query("DROP TABLE IF EXISTS " + QuoteIdent("before_" + t.name));
  }

  // `write` on the copy, its changes applied to PostgreSQL, in one PostgreSQL transaction that
  // holds the writers' lock; `condition` (when given) must change one row for it to commit.
  // `rewrite`: the write may change or remove rows of append-only tables (a statement).
  void WriteThrough(const std::string& what, const std::function<void()>& write,
                    const CommitCondition* condition = nullptr, bool rewrite = false) {
    if (read_only_)
      throw Error(ErrorKind::kDatabase,
                  fmt::format("{} failed: the results store at '{}' was opened read-only", what,
                              RedactedUrl(url_)));
    bool copy_touched = false;
    try {
      Guarded(url_, what, [&] {
        pqxx::work txn(Connection());
        txn.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kWriterLock));
        RefreshIn(txn);
        TakeSnapshot(rewrite);
        copy_touched = true;
        write();
        ApplyChanges(txn, rewrite);
        DropSnapshot();
        if (condition) {
          const pqxx::result r = txn.exec_params(
              condition->sql, pqxx::prepare::make_dynamic_params(condition->params));
          if (r.affected_rows() != 1) throw Error(ErrorKind::kInvalidArgument, condition->refused);
        }
        const pqxx::row bumped =
            txn.exec(fmt::format("UPDATE {} SET generation = generation + 1, rewrites = rewrites "
                                 "+ {} RETURNING generation, rewrites",
                                 kGenerationTable, rewrite ? 1 : 0))[0];
        txn.commit();
        loaded_ = {bumped[0].as<int64_t>(), bumped[1].as<int64_t>()};
      });
    } catch (...) {
      // A write that failed may have changed the copy in part (a text of several statements
      // whose first ran) or left its transaction open or aborted: the copy is rolled back and
      // loaded again whole before it is next used, and the first error is the one thrown.
      if (copy_touched) {
        RollBackCopyQuietly();
        loaded_ = {};
      }
      try {
        DropSnapshot();
      } catch (const Error&) {
      }
      throw;
    }
  }

  void RollBackCopyQuietly() {
    try {
      copy_->Query("ROLLBACK");
    } catch (const Error&) {  // no transaction was open
    }
  }

  std::string url_;
  bool read_only_;
  std::unique_ptr<pqxx::connection> connection_;
  std::unique_ptr<DuckDbResultStore> copy_;
  std::vector<TableShape> tables_;
  Generation loaded_;                                  // what the copy holds
  std::map<std::string, std::string> before_highest_;  // TakeSnapshot's highest keys
  int64_t reloads_ = 0;
};

class NativeSession final : public PostgresSession {
 public:
  explicit NativeSession(std::string url) : url_(std::move(url)), connection_(ConnectTo(url_)) {}

  QueryResult Execute(const std::string& sql, const TextParams& params) override {
    return Guarded(url_, "a fleet statement", [&] {
      if (!connection_->is_open()) connection_ = ConnectTo(url_);
      // Autocommit: the statement is its own transaction (CREATE DATABASE may not be in one).
      pqxx::nontransaction txn(*connection_);
      return ToQueryResult(txn.exec_params(sql, pqxx::prepare::make_dynamic_params(params)));
    });
  }
  int BackendPid() override { return connection_->backendpid(); }

 private:
  static std::string TypeName(pqxx::oid type) {
    switch (type) {
      case 16:
        return "BOOLEAN";
      case 20:
        return "BIGINT";
      case 21:
      case 23:
        return "INTEGER";
      case 700:
      case 701:
      case 1700:
        return "DOUBLE";
      default:
        return "VARCHAR";
    }
  }

  static QueryResult ToQueryResult(const pqxx::result& r) {
    QueryResult out;
    for (pqxx::row::size_type c = 0; c < r.columns(); ++c) {
      out.column_names.emplace_back(r.column_name(c));
      out.column_types.push_back(TypeName(r.column_type(c)));
    }
    for (const auto& row : r) {
      auto& cells = out.rows.emplace_back();
      for (pqxx::row::size_type c = 0; c < r.columns(); ++c) {
        if (row[c].is_null()) {
          cells.emplace_back(std::nullopt);
        } else if (out.column_types[c] == "BOOLEAN") {
          cells.emplace_back(std::string(row[c].c_str()) == "t" ? "true" : "false");
        } else {
          cells.emplace_back(row[c].c_str());
        }
      }
    }
    return out;
  }

  std::string url_;
  std::unique_ptr<pqxx::connection> connection_;
};

}  // namespace

bool IsPostgresUrl(std::string_view db) {
  return db.starts_with("postgresql://") || db.starts_with("postgres://");
}

std::string RedactedUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const size_t authority_end = url.find_first_of("/?", scheme + 3);
  const std::string_view authority = url.substr(scheme + 3, authority_end - (scheme + 3));
  const size_t at = authority.rfind('@');
  const size_t colon = authority.find(':');
  std::string out(url);
  if (at != std::string_view::npos && colon != std::string_view::npos && colon < at)
    out.replace(scheme + 3 + colon + 1, at - colon - 1, "***");
  // Every password= parameter (libpq takes the last of several; sslpassword= is one too).
  for (size_t at = out.find("password="); at != std::string::npos; at = out.find("password=", at)) {
    at += 9;
    const size_t end = out.find('&', at);
    out.replace(at, (end == std::string::npos ? out.size() : end) - at, "***");
  }
  return out;
}

std::unique_ptr<PostgresSession> PostgresSession::Connect(const std::string& url) {
  return std::make_unique<NativeSession>(url);
}

std::unique_ptr<PostgresResultStore> PostgresResultStore::Open(const std::string& url,
                                                               OpenOptions options) {
  auto store = std::make_unique<PostgresStore>(url, options.read_only);
  store->Initialize();
  return store;
}

}  // namespace ipfs_accel::store
