// GET /api/health, /api/runs, /api/results, /api/models, /api/hardware: stored rows, filtered
// (values bound, never quoted) and paged with totals.

#include <fmt/format.h>

#include "ipfs_accel/analysis/labels.h"
#include "ipfs_accel/analysis/runs.h"
#include "ipfs_accel/build_info.h"
#include "ipfs_accel/server/api.h"
#include "ipfs_accel/server/paging.h"
#include "server/schemas.h"

namespace ipfs_accel::server {

namespace {

std::vector<ParamSpec> ResultsWithPaging(std::vector<ParamSpec> params) {
  for (ParamSpec& p : PagingParams()) params.push_back(std::move(p));
  return params;
}

ParamSpec ResultsTextParam(const char* name, const char* description) {
  return {.name = name, .description = description};
}

ParamSpec Date(const char* name, const char* description) {
  return {.name = name, .type = ParamType::kDate, .description = description};
}

// from/to over `column` (a TIMESTAMP): inclusive; a date alone as `to` includes its whole day.
void AddDateRange(const Request& request, const std::string& column, SqlFilter& filter) {
  if (const auto from = request.Get("from"))
    filter.Add(column + " >= CAST(? AS TIMESTAMP)", {*from});
  if (const auto to = request.Get("to"))
    filter.Add(to->size() == 10 ? column + " < CAST(? AS DATE) + INTERVAL 1 DAY"
                                : column + " <= CAST(? AS TIMESTAMP)",
               {*to});
}

const std::vector<std::string> kScenarios = {"single-stream", "offline", "server",
                                             "generate",      "load",    "training"};

Response Health(ApiContext& context) {
  auto store = context.stores->Acquire();
  nlohmann::ordered_json out;
  out["status"] = "ok";
  out["database"] = context.stores->path();
  out["schema_version"] = store->SchemaVersion();
  out["tool_version"] = build_info::kToolVersion;
  out["git_commit"] = build_info::kGitCommit;
  return Response::Json(out);
}

Response Runs(ApiContext& context, const Request& request) {
  const Page page = PageOf(request);
  analysis::RunsFilter filter{.limit = page.limit,
                              .offset = page.offset,
                              .branch = request.Get("branch"),
                              .commit = request.Get("commit"),
                              .state = request.Get("state"),
                              .host = request.Get("host"),
                              .started_from = request.Get("from"),
                              .started_to = request.Get("to")};
  auto store = context.stores->Acquire();
  return Response::Json(
      PageJson(analysis::RunsTable(*store, filter), analysis::CountRuns(*store, filter), page));
}

// The columns of /api/results, over performance_results p, runs r, models m, hardware h.
std::string ResultColumns() {
  return fmt::format(
      "p.result_id, p.run_id, strftime(r.started_at, '%Y-%m-%dT%H:%M:%SZ') AS started_at, "
      "r.git_commit AS commit, r.branch, m.name AS model, {} AS model_label, p.model_id, "
      "h.platform, h.device_name AS device, h.hostname AS host, p.execution_provider, "
      "p.precision, p.graph_variant, p.scenario, p.batch_size, p.seq_len, p.threads, "
      "p.iterations, p.latency_mean_ms, p.latency_p50_ms, p.latency_p90_ms, p.latency_p99_ms, "
      "p.throughput_items_per_s, p.time_to_first_token_ms, p.prompt_len, p.new_tokens, "
      "p.peak_rss_bytes, p.runtime_version, m.content_cid AS model_cid, p.graph_cid",
      analysis::ModelLabelSql("m"));
}

Response Results(ApiContext& context, const Request& request) {
  SqlFilter filter;
  if (const auto model = request.Get("model"))
    // The models table first: a label computed on every joined result row took seconds over a
    // million results.
    filter.Add(fmt::format("p.model_id IN (SELECT model_id FROM models mf WHERE mf.name = ? OR "
                           "{} = ?)",
                           analysis::ModelLabelSql("mf")),
               {*model, *model});
  filter.IfGiven(request, "platform", "h.platform = ?")
      .IfGiven(request, "hardware", "h.platform = ?")
      .IfGiven(request, "device", "h.device_name = ?")
      .IfGiven(request, "host", "h.hostname = ?")
      .IfGiven(request, "precision", "p.precision = ?")
      .IfGiven(request, "graph", "p.graph_variant = ?")
      .IfGiven(request, "scenario", "p.scenario = ?")
      .IfGiven(request, "branch", "r.branch = ?")
      .IfGiven(request, "commit", "starts_with(r.git_commit, ?)")
      .IfGiven(request, "run", "starts_with(p.run_id, ?)");
  if (const auto batch = request.OptionalInt("batch")) filter.Add("p.batch_size = ?", {*batch});
  if (const auto seq = request.OptionalInt("seq_len")) filter.Add("p.seq_len = ?", {*seq});
  AddDateRange(request, "r.started_at", filter);
  if (request.Bool("latest", false))
    filter.Add("p.result_id IN (SELECT result_id FROM latest_performance)", {});
  const std::string from =
      "FROM performance_results p JOIN runs r USING (run_id) JOIN models m USING (model_id) "
      "JOIN hardware_platforms h USING (hardware_id) " +
      filter.Where();
  // The page's result ids first, then their columns: the columns (a label, a formatted date)
  // computed for every matching row before the top-N took 0.6 s over a million results.
  const Page page = PageOf(request);
  const std::string keys =
      fmt::format(
          "SELECT p.result_id, r.started_at {} ORDER BY r.started_at DESC, p.result_id DESC",
          from) +
      LimitClause(page);
  auto store = context.stores->Acquire();
  const store::QueryResult rows = store->Query(
      fmt::format("SELECT {} FROM ({}) k JOIN performance_results p USING (result_id) "
                  "JOIN runs r ON r.run_id = p.run_id JOIN models m ON m.model_id = p.model_id "
                  "JOIN hardware_platforms h ON h.hardware_id = p.hardware_id "
                  "ORDER BY k.started_at DESC, p.result_id DESC",
                  ResultColumns(), keys),
      filter.params());
  return Response::Json(PageJson(rows, CountRows(*store, from, filter), page));
}

Response Models(ApiContext& context, const Request& request) {
  SqlFilter filter;
  filter.IfGiven(request, "name", "m.name = ?")
      .IfGiven(request, "architecture", "m.architecture = ?")
      .IfGiven(request, "modality", "m.modality = ?")
      .IfGiven(request, "family", "m.family = ?")
      .IfGiven(request, "source", "m.source = ?")
      .IfGiven(request, "cid", "m.content_cid = ?");
  const std::string from = "FROM models m " + filter.Where();
  auto store = context.stores->Acquire();
  return Response::Json(PagedQuery(
      *store,
      fmt::format(
          "SELECT m.model_id, m.name, {} AS label, m.architecture, m.modality, m.family, "
          "m.source, m.source_path, m.parameters, m.content_hash, m.config_hash, m.content_cid, "
          "(SELECT count(*) FROM performance_results p WHERE p.model_id = m.model_id) "
          "AS results {} ORDER BY m.name, m.model_id",
          analysis::ModelLabelSql("m"), from),
      from, filter, PageOf(request)));
}

Response Hardware(ApiContext& context, const Request& request) {
  SqlFilter filter;
  filter.IfGiven(request, "platform", "h.platform = ?")
      .IfGiven(request, "host", "h.hostname = ?")
      .IfGiven(request, "device", "h.device_name = ?");
  const std::string from = "FROM hardware_platforms h " + filter.Where();
  auto store = context.stores->Acquire();
  return Response::Json(PagedQuery(
      *store,
      "SELECT h.hardware_id, h.platform, h.device_name AS device, h.hostname AS host, h.details, "
      "(SELECT count(*) FROM performance_results p WHERE p.hardware_id = h.hardware_id) AS "
      "results " +
          from + " ORDER BY h.hostname, h.platform, h.device_name",
      from, filter, PageOf(request)));
}

nlohmann::json ResultItemSchema() {
  return ObjectSchema({{"result_id", "integer"},
                       {"run_id", "string"},
                       {"started_at", "string"},
                       {"commit", "string"},
                       {"branch", "string?"},
                       {"model", "string"},
                       {"model_label", "string"},
                       {"model_id", "integer"},
                       {"platform", "string"},
                       {"device", "string"},
                       {"host", "string"},
                       {"execution_provider", "string"},
                       {"precision", "string"},
                       {"graph_variant", "string"},
                       {"scenario", "string"},
                       {"batch_size", "integer"},
                       {"seq_len", "integer"},
                       {"threads", "integer"},
                       {"iterations", "integer"},
                       {"latency_mean_ms", "number?"},
                       {"latency_p50_ms", "number?"},
                       {"latency_p90_ms", "number?"},
                       {"latency_p99_ms", "number?"},
                       {"throughput_items_per_s", "number?"},
                       {"time_to_first_token_ms", "number?"},
                       {"prompt_len", "integer?"},
                       {"new_tokens", "integer?"},
                       {"peak_rss_bytes", "integer?"},
                       {"runtime_version", "string"}});
}

}  // namespace

void AddResultRoutes(RouteTable& table, ApiContext& context) {
  ApiContext* c = &context;
  table.Add({.method = "GET",
             .path = "/api/health",
             .summary = "The server is up: its database, schema version and tool version",
             .tag = "meta",
             .response_schema = ObjectSchema({{"status", "string"},
                                              {"database", "string"},
                                              {"schema_version", "integer"},
                                              {"tool_version", "string"},
                                              {"git_commit", "string"}}),
             .handler = [c](const Request&) { return Health(*c); }});
  table.Add({.method = "GET",
             .path = "/api/runs",
             .summary = "Stored runs, newest first (what `runs list` prints)",
             .tag = "results",
             .params = ResultsWithPaging(
                 {ResultsTextParam("branch", "only runs of this branch"),
                  ResultsTextParam("commit", "only runs whose git commit starts with this"),
                  {.name = "state",
                   .description = "only runs in this state",
                   .allowed = {"running", "interrupted", "complete"}},
                  ResultsTextParam("host", "only runs on this host"),
                  Date("from", "only runs started at or after this"),
                  Date("to", "only runs started at or before this (a date: that day)")}),
             .response_schema = PageSchema(ObjectSchema({{"id", "string"},
                                                         {"started_at", "string"},
                                                         {"state", "string"},
                                                         {"models", "string?"},
                                                         {"platforms", "string?"},
                                                         {"results", "integer"},
                                                         {"commit", "string"},
                                                         {"branch", "string?"},
                                                         {"host", "string"},
                                                         {"run_id", "string"}})),
             .handler = [c](const Request& r) { return Runs(*c, r); }});
  table.Add({.method = "GET",
             .path = "/api/results",
             .summary = "Stored performance results, newest run first, filtered",
             .tag = "results",
             .params = ResultsWithPaging(
                 {ResultsTextParam("model", "a model name, or one model's label"),
                  ResultsTextParam("platform", "cpu, cuda, wasm, ..."),
                  ResultsTextParam("hardware", "the same as platform"),
                  ResultsTextParam("device", "device name"),
                  ResultsTextParam("host", "host name"),
                  ResultsTextParam("precision", "fp32, fp16, int8, int4"),
                  {.name = "graph", .description = "graph variant", .allowed = {"plain", "fused"}},
                  {.name = "scenario", .description = "benchmark scenario", .allowed = kScenarios},
                  {.name = "batch",
                   .type = ParamType::kInteger,
                   .description = "batch size",
                   .minimum = 1},
                  {.name = "seq_len",
                   .type = ParamType::kInteger,
                   .description = "sequence length",
                   .minimum = 0},
                  ResultsTextParam("branch", "only runs of this branch"),
                  ResultsTextParam("commit", "only runs whose git commit starts with this"),
                  ResultsTextParam("run", "only this run (its id or a prefix of it)"),
                  Date("from", "only runs started at or after this"),
                  Date("to", "only runs started at or before this (a date: that day)"),
                  {.name = "latest",
                   .type = ParamType::kBoolean,
                   .description = "only the latest result of each configuration",
                   .default_value = "false"}}),
             .response_schema = PageSchema(ResultItemSchema()),
             .handler = [c](const Request& r) { return Results(*c, r); }});
  table.Add(
      {.method = "GET",
       .path = "/api/models",
       .summary = "Stored models, with how many results each has",
       .tag = "results",
       .params = ResultsWithPaging({ResultsTextParam("name", "model name"),
                                    ResultsTextParam("architecture", "HF model_type, or onnx"),
                                    ResultsTextParam("modality", "text, vision, audio, multimodal"),
                                    ResultsTextParam("family", "embedding, text_generation, ..."),
                                    ResultsTextParam("source", "catalog, hf-folder, onnx-file"),
                                    ResultsTextParam("cid", "the model's content CID (bafy...)")}),
       .response_schema = PageSchema(ObjectSchema({{"model_id", "integer"},
                                                   {"name", "string"},
                                                   {"label", "string"},
                                                   {"architecture", "string"},
                                                   {"modality", "string"},
                                                   {"parameters", "integer"},
                                                   {"results", "integer"}})),
       .handler = [c](const Request& r) { return Models(*c, r); }});
  table.Add({.method = "GET",
             .path = "/api/hardware",
             .summary = "Stored hardware platforms, with their details and result counts",
             .tag = "results",
             .params = ResultsWithPaging({ResultsTextParam("platform", "cpu, cuda, ..."),
                                          ResultsTextParam("host", "host name"),
                                          ResultsTextParam("device", "device name")}),
             .response_schema = PageSchema(ObjectSchema({{"hardware_id", "integer"},
                                                         {"platform", "string"},
                                                         {"device", "string"},
                                                         {"host", "string"},
                                                         {"details", "object"},
                                                         {"results", "integer"}})),
             .handler = [c](const Request& r) { return Hardware(*c, r); }});
}

}  // namespace ipfs_accel::server
