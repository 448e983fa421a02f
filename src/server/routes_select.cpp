// GET /api/select: the hardware ranked for one configuration, as `select --json` gives it
// (analysis/hardware_selection.h): measured figures where stored, predicted ones (labelled,
// with their interval) where not. The dashboard's recommender form asks it.

#include <fmt/format.h>

#include "ipfs_accel/analysis/hardware_selection.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/precision.h"
#include "ipfs_accel/server/api.h"
#include "server/schemas.h"

namespace ipfs_accel::server {

namespace {

// Only names this build knows: a request must not make the server read a path it names.
void CheckSelectableModel(const std::string& name) {
  if (models::FindInCatalog(name) || name.rfind(models::kTemplateSpecPrefix, 0) == 0) return;
  throw HttpError(400, fmt::format("model '{}' is not a catalog name or template:NAME; the API "
                                   "loads no files (select a folder's model with "
                                   "`ipfs-accelerate select --model PATH`)",
                                   name));
}

Response Select(ApiContext& context, const Request& request) {
  analysis::SelectionQuery q;
  q.model_spec = request.Get("model").value_or("");
  CheckSelectableModel(q.model_spec);
  q.batch_size = request.Int("batch_size", q.batch_size);
  q.seq_len = request.Int("seq_len", q.seq_len);
  q.precision = request.Get("precision").value_or(q.precision);
  q.graph = request.Get("graph").value_or(q.graph);
  q.platform = request.Get("hardware").value_or("");
  q.training = request.Get("mode").value_or("inference") == "training";
  q.optimizer = request.Get("optimizer").value_or(q.optimizer);
  const auto metric = analysis::ParseSelectionMetric(request.Get("metric").value_or("latency"));
  const models::Model model =
      models::LoadModel(q.model_spec, {.seed = static_cast<uint64_t>(request.Int("seed", 42)),
                                       .fused = q.graph == "fused",
                                       .precision = models::ParsePrecision(q.precision),
                                       .max_weight_bytes = hw::AvailableHostMemoryBytes()});
  const auto shapes = harness::CheckShapes(
      model, {{.batch_size = q.batch_size, .seq_len = q.seq_len, .batch_explicit = true}});
  auto store = context.stores->Acquire();
  // A GET writes nothing: each predicted figure names its predictor, which is stored.
  const analysis::HardwareFigures f =
      analysis::FigureHardware(*store, model, shapes.at(0), q, /*record_predictions=*/false);
  const analysis::Selection s =
      analysis::RankHardware(f, q, metric, request.OptionalNumber("max_memory_gb").value_or(0));
  return Response::Json(analysis::SelectionJson(f, q, metric, s));
}

nlohmann::json RankedSchema() {
  nlohmann::json row = ObjectSchema({{"hardware", "string"},
                                     {"origin", "string"},
                                     {"latency_ms", "number"},
                                     {"throughput_items_per_s", "number"},
                                     {"memory_bytes", "integer"},
                                     {"memory_origin", "string"},
                                     {"run_id", "string"},
                                     {"predictor_id", "string"}});
  row["properties"]["origin"]["enum"] = {"measured", "predicted"};
  row["properties"]["latency_interval_80pct_ms"] = {
      {"type", "array"}, {"items", {{"type", "number"}}}, {"minItems", 2}, {"maxItems", 2}};
  return row;
}

}  // namespace

void AddSelectRoutes(RouteTable& table, ApiContext& context) {
  ApiContext* c = &context;
  const auto text = [](const char* name, const char* description) {
    return ParamSpec{.name = name, .description = description};
  };
  table.Add(
      {.method = "GET",
       .path = "/api/select",
       .summary = "The hardware ranked for one configuration, as `select --json`",
       .description = "Measured figures where a result is stored, else predicted by the latest "
                      "stored predictor (labelled, with an 80 % interval); hardware where the "
                      "model needs more than max_memory_gb is left out with the reason. 404 "
                      "when no hardware has a figure.",
       .tag = "analysis",
       .params = {{.name = "model",
                   .description = "a catalog name or template:NAME",
                   .required = true},
                  {.name = "seed",
                   .type = ParamType::kInteger,
                   .description = "the seed of the model's random weights",
                   .minimum = 0,
                   .default_value = "42"},
                  {.name = "batch_size",
                   .type = ParamType::kInteger,
                   .minimum = 1,
                   .maximum = 65536,
                   .default_value = "1"},
                  {.name = "seq_len",
                   .type = ParamType::kInteger,
                   .minimum = 1,
                   .maximum = 1 << 20,
                   .default_value = "128"},
                  {.name = "precision",
                   .allowed = {"fp32", "fp16", "int8", "int4"},
                   .default_value = "fp32"},
                  {.name = "graph", .allowed = {"plain", "fused"}, .default_value = "plain"},
                  {.name = "mode",
                   .description = "training: measured training steps (benchmark --mode training)",
                   .allowed = {"inference", "training"},
                   .default_value = "inference"},
                  {.name = "optimizer",
                   .description = "mode training: the step's optimizer",
                   .allowed = {"adamw", "sgd-momentum"},
                   .default_value = "adamw"},
                  {.name = "metric",
                   .allowed = {"latency", "throughput", "memory"},
                   .default_value = "latency"},
                  {.name = "max_memory_gb",
                   .type = ParamType::kNumber,
                   .description = "leave out hardware where the model needs more"},
                  text("hardware", "only hardware of this platform (cpu, cuda, wasm, ...)")},
       .response_schema = {{"type", "object"},
                           {"properties",
                            {{"model", {{"type", "string"}}},
                             {"mode", {{"type", "string"}}},
                             {"optimizer", {{"type", "string"}}},
                             {"metric", {{"type", "string"}}},
                             {"batch_size", {{"type", "integer"}}},
                             {"seq_len", {{"type", "integer"}}},
                             {"precision", {{"type", "string"}}},
                             {"ranked", {{"type", "array"}, {"items", RankedSchema()}}},
                             {"excluded", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                             {"notes", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}},
       .handler = [c](const Request& r) { return Select(*c, r); }});
}

}  // namespace ipfs_accel::server
