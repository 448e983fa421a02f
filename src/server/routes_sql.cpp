// POST /api/sql: one read-only query, refused before it runs unless sql_guard lets it, then run
// bounded in rows and time (store::ResultStore::QueryLimited).

#include <fmt/format.h>

#include <chrono>

#include "ipfs_accel/core/json.h"
#include "ipfs_accel/server/api.h"
#include "ipfs_accel/server/sql_guard.h"
#include "server/schemas.h"

namespace ipfs_accel::server {

namespace {

using ojson = nlohmann::ordered_json;

Response RunSql(ApiContext& context, const Request& request) {
  const nlohmann::json body = nlohmann::json::parse(request.body);  // checked by the router
  if (!body.is_object() || !body.contains("sql") || !body["sql"].is_string())
    throw HttpError(400, "send {\"sql\": \"SELECT ...\"} (and optionally \"max_rows\")");
  const std::string sql = body["sql"].get<std::string>();
  store::QueryLimits limits = context.sql_limits;
  if (body.contains("max_rows")) {
    const auto& m = body["max_rows"];
    if (!m.is_number_unsigned() || m.get<uint64_t>() == 0)
      throw HttpError(400, "max_rows must be a whole number of 1 or more");
    limits.max_rows = std::min<size_t>(limits.max_rows, m.get<uint64_t>());
  }
  auto store = context.stores->Acquire();
  if (const std::string why = SqlRefusal(store->Inspect(sql)); !why.empty())
    throw HttpError(403, why);
  const auto start = std::chrono::steady_clock::now();
  const store::LimitedQueryResult r = store->QueryLimited(sql, limits);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ojson columns = ojson::array();
  for (size_t i = 0; i < r.result.column_names.size(); ++i)
    columns.push_back({{"name", r.result.column_names[i]}, {"type", r.result.column_types[i]}});
  ojson out;
  out["columns"] = columns;
  out["rows"] = store::QueryRowsToJson(r.result);
  out["row_count"] = r.result.rows.size();
  out["truncated"] = r.truncated;
  out["max_rows"] = limits.max_rows;
  out["elapsed_ms"] = ms;
  return Response::Json(out);
}

}  // namespace

void AddSqlRoutes(RouteTable& table, ApiContext& context) {
  ApiContext* c = &context;
  table.Add(
      {.method = "POST",
       .path = "/api/sql",
       .summary = "Run one read-only SQL query on the results database",
       .description = fmt::format(
           "One query statement (SELECT, WITH, VALUES, FROM, DESCRIBE, SHOW, SUMMARIZE), checked "
           "with DuckDB's parser before it runs; anything that writes, attaches, copies, "
           "installs or loads, sets, or reads files is refused with 403. At most {} rows come "
           "back (truncated says whether there were more); a query running past {:g} s is "
           "stopped with 408.",
           context.sql_limits.max_rows, context.sql_limits.timeout_s),
       .tag = "sql",
       .request_schema = {{"type", "object"},
                          {"required", {"sql"}},
                          {"properties",
                           {{"sql", {{"type", "string"}}},
                            {"max_rows", {{"type", "integer"}, {"minimum", 1}}}}}},
       .response_schema = ObjectSchema({{"columns", "array"},
                                        {"rows", "array"},
                                        {"row_count", "integer"},
                                        {"truncated", "boolean"},
                                        {"max_rows", "integer"},
                                        {"elapsed_ms", "number"}}),
       .error_statuses = {403, 408},
       .handler = [c](const Request& r) { return RunSql(*c, r); }});
}

}  // namespace ipfs_accel::server
