// POST /api/runs: another machine's run export (`db export --format run-json`, or `benchmark
// --push`) stored here in one transaction. Bearer token required (router). A run whose run_id
// is already stored is a duplicate and adds nothing: run ids are UUIDs made where the run was
// measured and kept by the export, and runs.run_id is the table's primary key.

#include <fmt/format.h>

#include <mutex>
#include <set>

#include "ipfs_accel/server/api.h"
#include "ipfs_accel/store/json_import.h"
#include "server/schemas.h"

namespace ipfs_accel::server {

namespace {

using ojson = nlohmann::ordered_json;

bool Stored(store::ResultStore& store, const std::string& run_id) {
  const store::QueryResult r = store.Query("SELECT count(*) FROM runs WHERE run_id = ?", {run_id});
  return r.rows.at(0).at(0).value_or("0") != "0";
}

Response PushRuns(ApiContext& context, const Request& request) {
  const std::vector<store::RunResults> runs =
      store::ParseRunExportText(request.body, "the request body");
  auto store = context.stores->Acquire();
  // One writer at a time: the duplicate check and the write see the same database.
  std::lock_guard write(context.stores->write_mutex());
  std::vector<const store::RunResults*> fresh;
  ojson stored = ojson::array(), duplicates = ojson::array();
  std::set<std::string> seen;
  size_t results = 0;
  for (const store::RunResults& run : runs) {
    if (!seen.insert(run.run.run_id).second || Stored(*store, run.run.run_id)) {
      duplicates.push_back(run.run.run_id);
      continue;
    }
    fresh.push_back(&run);
    stored.push_back(run.run.run_id);
    for (const auto& entry : run.entries) results += entry.performance.size();
  }
  try {
    store->WriteRuns(fresh);  // one transaction: every new run or none
  } catch (const core::Error& e) {
    // The database refused a value (a CHECK): the sender's data, not this server.
    if (e.kind() == core::ErrorKind::kDatabase) throw HttpError(400, e.what());
    throw;
  }
  ojson out;
  out["stored"] = stored;
  out["duplicates"] = duplicates;
  out["performance_results"] = results;
  return Response::Json(out, fresh.empty() ? 200 : 201);
}

}  // namespace

void AddPushRoutes(RouteTable& table, ApiContext& context) {
  ApiContext* c = &context;
  table.Add(
      {.method = "POST",
       .path = "/api/runs",
       .summary = "Store runs sent as this tool's run export (db export --format run-json)",
       .description = "The body is one run export or an array of them. All new runs are stored "
                      "in one transaction; a run whose run_id is already stored is a duplicate "
                      "and adds nothing (200 when every run was one, 201 otherwise).",
       .tag = "write",
       .request_schema = {{"oneOf",
                           {{{"type", "object"}, {"required", {"format", "version", "run"}}},
                            {{"type", "array"}, {"items", {{"type", "object"}}}}}}},
       .response_schema = ObjectSchema(
           {{"stored", "array"}, {"duplicates", "array"}, {"performance_results", "integer"}}),
       .success_status = 201,
       .requires_token = true,
       .error_statuses = {200, 413},
       .handler = [c](const Request& r) { return PushRuns(*c, r); }});
}

}  // namespace ipfs_accel::server
