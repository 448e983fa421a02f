// GET /api/templates, /api/templates/{model_type}, /api/predictions: the architecture templates
// of this build with their latest stored validation, and the stored predictions.

#include <fmt/format.h>

#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/server/api.h"
#include "ipfs_accel/server/paging.h"
#include "ipfs_accel/store/template_records.h"
#include "server/schemas.h"

namespace ipfs_accel::server {

namespace {

using ojson = nlohmann::ordered_json;

ojson TemplateRow(const models::ArchitectureTemplate& t,
                  const store::TemplateValidationRecord* validation) {
  ojson row;
  row["model_type"] = t.model_type;
  row["builder"] = t.builder;
  row["inherits"] = t.inherits.empty() ? ojson() : ojson(t.inherits);
  row["modality"] = t.modality;
  row["family"] = t.family;
  row["version"] = t.version;
  row["content_hash"] = t.content_hash;
  // The validation counts only for the version this build has.
  const bool current = validation && validation->version == t.version;
  row["status"] = current ? ojson(validation->status) : ojson();
  row["parameters"] = current && validation->parameters ? ojson(*validation->parameters) : ojson();
  row["validated_at"] = current ? ojson(validation->validated_at) : ojson();
  return row;
}

Response Templates(ApiContext& context, const Request& request) {
  std::map<std::string, store::TemplateValidationRecord> validations;
  {
    auto store = context.stores->Acquire();
    validations = store::LatestTemplateValidations(*store);
  }
  const Page page = PageOf(request);
  ojson items = ojson::array();
  int64_t total = 0;
  for (const auto& t : models::Templates()) {
    if (t.abstract) continue;
    const auto v = validations.find(t.model_type);
    const ojson row = TemplateRow(t, v == validations.end() ? nullptr : &v->second);
    const auto keeps = [&](const char* name, const char* field) {
      const auto want = request.Get(name);
      return !want || (row[field].is_string() && row[field].get<std::string>() == *want);
    };
    if (!keeps("builder", "builder") || !keeps("modality", "modality") ||
        !keeps("status", "status"))
      continue;
    if (total++ >= page.offset && static_cast<int64_t>(items.size()) < page.limit)
      items.push_back(row);
  }
  return Response::Json(
      ojson{{"total", total}, {"limit", page.limit}, {"offset", page.offset}, {"items", items}});
}

Response Template(const Request& request) {
  const std::string name = request.Get("model_type").value_or("");
  const models::ArchitectureTemplate* t = models::FindTemplate(name);
  if (t == nullptr)
    throw HttpError(404, fmt::format("no template '{}'; /api/templates lists them", name));
  return Response::Json(t->resolved);
}

Response Predictions(ApiContext& context, const Request& request) {
  SqlFilter filter;
  filter.IfGiven(request, "model", "p.model_name = ?")
      .IfGiven(request, "hardware", "p.hardware = ?")
      .IfGiven(request, "precision", "p.precision = ?");
  const std::string from = "FROM predictions p " + filter.Where();
  auto store = context.stores->Acquire();
  return Response::Json(
      PagedQuery(*store,
                 "SELECT p.prediction_model_id, strftime(p.created_at, '%Y-%m-%dT%H:%M:%SZ') AS "
                 "created_at, p.model_name AS model, p.content_hash, p.hardware, p.precision, "
                 "p.graph_variant, p.batch_size, p.seq_len, p.predicted, p.low, p.high " +
                     from + " ORDER BY p.created_at DESC, p.model_name, p.batch_size",
                 from, filter, PageOf(request)));
}

std::vector<ParamSpec> CatalogWithPaging(std::vector<ParamSpec> params) {
  for (ParamSpec& p : PagingParams()) params.push_back(std::move(p));
  return params;
}

}  // namespace

void AddCatalogRoutes(RouteTable& table, ApiContext& context) {
  ApiContext* c = &context;
  table.Add(
      {.method = "GET",
       .path = "/api/templates",
       .summary = "The architecture templates of this build, with their latest stored validation",
       .tag = "catalog",
       .params = CatalogWithPaging(
           {{.name = "builder", .description = "family builder (decoder, encoder, ...)"},
            {.name = "modality", .description = "text, vision, audio, multimodal"},
            {.name = "status",
             .description = "latest validation of this version",
             .allowed = {"exact", "structural", "unsupported", "failed"}}}),
       .response_schema = PageSchema(ObjectSchema({{"model_type", "string"},
                                                   {"builder", "string"},
                                                   {"inherits", "string?"},
                                                   {"version", "integer"},
                                                   {"status", "string?"},
                                                   {"parameters", "integer?"}})),
       .handler = [c](const Request& r) { return Templates(*c, r); }});
  table.Add({.method = "GET",
             .path = "/api/templates/{model_type}",
             .summary = "One template with its inheritance resolved (as `templates show`)",
             .tag = "catalog",
             .params = {{.name = "model_type",
                         .in = ParamIn::kPath,
                         .description = "HF model_type, e.g. llama"}},
             .response_schema = AnyObjectSchema(),
             .handler = [](const Request& r) { return Template(r); }});
  table.Add(
      {.method = "GET",
       .path = "/api/predictions",
       .summary = "Stored performance predictions, newest first (labelled estimates)",
       .tag = "catalog",
       .params = CatalogWithPaging({{.name = "model", .description = "model name"},
                                    {.name = "hardware", .description = "predictor hardware key"},
                                    {.name = "precision", .description = "fp32, fp16, ..."}}),
       .response_schema = PageSchema(ObjectSchema({{"prediction_model_id", "string"},
                                                   {"model", "string"},
                                                   {"hardware", "string"},
                                                   {"batch_size", "integer"},
                                                   {"predicted", "number"},
                                                   {"low", "number"},
                                                   {"high", "number"}})),
       .handler = [c](const Request& r) { return Predictions(*c, r); }});
}

}  // namespace ipfs_accel::server
