// GET /api/matrix, /api/reports/{kind}, /api/compare: the analysis layer's reports, the same
// functions the CLI's `matrix`, `report` and `compare` print.

#include <fmt/format.h>

#include "ipfs_accel/analysis/compatibility_matrix.h"
#include "ipfs_accel/analysis/regression.h"
#include "ipfs_accel/analysis/report.h"
#include "ipfs_accel/server/api.h"
#include "server/schemas.h"

namespace ipfs_accel::server {

namespace {

using ojson = nlohmann::ordered_json;

ojson TableJson(const store::QueryResult& table) {
  ojson columns = ojson::array();
  for (size_t i = 0; i < table.column_names.size(); ++i)
    columns.push_back({{"name", table.column_names[i]},
                       {"type", i < table.column_types.size() ? table.column_types[i] : ""}});
  return {{"columns", columns}, {"rows", store::QueryRowsToJson(table)}};
}

ojson ReportJson(const analysis::Report& report) {
  ojson out;
  out["title"] = report.title;
  out["notes"] = report.notes;
  out["table"] = TableJson(report.table);
  out["sections"] = ojson::array();
  for (const auto& section : report.sections)
    out["sections"].push_back(
        {{"title", section.title}, {"notes", section.notes}, {"table", TableJson(section.table)}});
  return out;
}

analysis::CompareOptions CompareOptionsOf(const Request& request) {
  analysis::CompareOptions o;
  o.baseline_ref = request.Get("baseline").value_or("");
  o.contender_ref = request.Get("contender").value_or("");
  o.include_dirty = request.Bool("include_dirty", false);
  o.model = request.Get("model");
  o.hardware = request.Get("hardware");
  o.threshold_z = request.OptionalNumber("threshold_z").value_or(o.threshold_z);
  o.factor = request.OptionalNumber("factor").value_or(o.factor);
  o.alpha = request.OptionalNumber("alpha").value_or(o.alpha);
  o.history = static_cast<int>(request.Int("history", o.history));
  return o;
}

// As `report KIND` builds it (cli/cmd_report.cpp): performance reads the latest run unless told,
// hardware and trend every run; regressions without refs: the latest run against its branch.
analysis::Report BuildReport(store::ResultStore& store, const std::string& database,
                             const Request& request) {
  const std::string kind = request.Get("kind").value_or("performance");
  analysis::ReportFilter filter{.model = request.Get("model"),
                                .hardware = request.Get("hardware"),
                                .every_result = request.Bool("all", false),
                                .limit = request.OptionalInt("limit")};
  const std::string run = request.Get("run").value_or(kind == "performance" ? "latest" : "all");
  if (run != "all") filter.run_id = run;
  if (kind == "performance") return analysis::BuildPerformanceReport(store, filter);
  if (kind == "hardware") return analysis::BuildHardwareReport(store, filter);
  if (kind == "trend") return analysis::BuildTrendReport(store, filter);
  if (kind == "compatibility") {
    analysis::CompatibilityMatrix m =
        analysis::BuildCompatibilityMatrix(store, {.hostname = request.Get("host")});
    m.database = database;
    return analysis::BuildCompatibilityReport(m);
  }
  analysis::CompareOptions compare = CompareOptionsOf(request);
  if (compare.baseline_ref.empty() != compare.contender_ref.empty())
    throw HttpError(400,
                    "give both baseline and contender, or neither (the latest run against "
                    "the earlier runs of its branch)");
  if (compare.baseline_ref.empty()) compare = analysis::DefaultRegressionRefs(store, compare);
  return analysis::BuildRegressionReport(store, compare);
}

ParamSpec AnalysisTextParam(const char* name, const char* description) {
  return {.name = name, .description = description};
}

std::vector<ParamSpec> CompareParams(bool refs_required) {
  return {{.name = "baseline",
           .description = "baseline ref: run (id, prefix, latest, latest~N), branch or commit",
           .required = refs_required},
          {.name = "contender",
           .description = "contender ref: run, branch or commit",
           .required = refs_required},
          AnalysisTextParam("model", "only this model (a name, or one model's label)"),
          AnalysisTextParam("hardware", "only this platform"),
          {.name = "include_dirty",
           .type = ParamType::kBoolean,
           .description = "let refs name builds from modified trees",
           .default_value = "false"},
          {.name = "threshold_z",
           .type = ParamType::kNumber,
           .description = "z-score threshold",
           .default_value = "5"},
          {.name = "factor",
           .type = ParamType::kNumber,
           .description = "U test: median ratio threshold",
           .default_value = "1.1"},
          {.name = "alpha",
           .type = ParamType::kNumber,
           .description = "U test: significance level",
           .default_value = "0.002"},
          {.name = "history",
           .type = ParamType::kInteger,
           .description = "z-score: baseline results per configuration",
           .minimum = 1,
           .maximum = 1000000,
           .default_value = "20"}};
}

ojson RefJson(const analysis::ResolvedRef& ref) {
  return {{"ref", ref.ref}, {"kind", ref.kind}, {"run_ids", ref.run_ids}};
}

Response Compare(ApiContext& context, const Request& request) {
  auto store = context.stores->Acquire();
  const analysis::Comparison c = analysis::CompareRefs(*store, CompareOptionsOf(request));
  int regressions = 0;
  for (const auto& row : c.rows) regressions += row.verdict == analysis::Verdict::kRegression;
  ojson out;
  out["baseline"] = RefJson(c.baseline);
  out["contender"] = RefJson(c.contender);
  out["contender_run_id"] = c.contender_run_id;
  out["regressions"] = regressions;
  out["table"] = TableJson(analysis::ComparisonTable(c));
  return Response::Json(out);
}

nlohmann::json ReportSchema() {
  return {{"type", "object"},
          {"properties",
           {{"title", {{"type", "string"}}},
            {"notes", {{"type", "array"}, {"items", {{"type", "string"}}}}},
            {"table", TableSchema()},
            {"sections", {{"type", "array"}, {"items", AnyObjectSchema()}}}}}};
}

}  // namespace

void AddAnalysisRoutes(RouteTable& table, ApiContext& context) {
  ApiContext* c = &context;
  table.Add({.method = "GET",
             .path = "/api/matrix",
             .summary = "The model x hardware compatibility matrix (as `matrix --format json`)",
             .tag = "analysis",
             .params = {AnalysisTextParam("host", "only results measured on this host")},
             .response_schema = AnyObjectSchema(),
             .handler = [c](const Request& request) {
               auto store = c->stores->Acquire();
               analysis::CompatibilityMatrix m =
                   analysis::BuildCompatibilityMatrix(*store, {.hostname = request.Get("host")});
               m.database = c->stores->path();
               return Response::Json(analysis::MatrixToJson(m));
             }});
  std::vector<ParamSpec> report_params = CompareParams(false);
  report_params.insert(
      report_params.begin(),
      {{.name = "kind",
        .in = ParamIn::kPath,
        .description = "which report",
        .allowed = {"performance", "hardware", "compatibility", "trend", "regressions"}},
       AnalysisTextParam("run",
                         "'all', or a run: id, prefix, latest, latest~N (default: latest for "
                         "performance, all for hardware and trend)"),
       AnalysisTextParam("host", "compatibility: only results measured on this host"),
       {.name = "all",
        .type = ParamType::kBoolean,
        .description = "performance: every stored result, not only the latest of each "
                       "configuration",
        .default_value = "false"},
       {.name = "limit",
        .type = ParamType::kInteger,
        .description = "performance: at most this many rows",
        .minimum = 0}});
  table.Add({.method = "GET",
             .path = "/api/reports/{kind}",
             .summary = "One of `report`'s kinds as data: title, notes, table, sections",
             .tag = "analysis",
             .params = report_params,
             .response_schema = ReportSchema(),
             .handler = [c](const Request& request) {
               auto store = c->stores->Acquire();
               return Response::Json(ReportJson(BuildReport(*store, c->stores->path(), request)));
             }});
  table.Add({.method = "GET",
             .path = "/api/compare",
             .summary = "Regression check between two refs, as `compare` (z-score and U test)",
             .tag = "analysis",
             .params = CompareParams(true),
             .response_schema = {{"type", "object"},
                                 {"properties",
                                  {{"baseline", AnyObjectSchema()},
                                   {"contender", AnyObjectSchema()},
                                   {"contender_run_id", {{"type", "string"}}},
                                   {"regressions", {{"type", "integer"}}},
                                   {"table", TableSchema()}}}},
             .handler = [c](const Request& request) { return Compare(*c, request); }});
}

}  // namespace ipfs_accel::server
