// The inference endpoints (inference.h): requests parsed into serving::InferRequest, run
// through the resource pool, and answered as JSON or as the tensor envelope the request came in.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/runtime/platforms.h"
#include "ipfs_accel/runtime/tensor_envelope.h"
#include "ipfs_accel/server/http_server.h"
#include "ipfs_accel/server/inference.h"
#include "ipfs_accel/serving/metrics_text.h"
#include "ipfs_accel/serving/serving_error.h"
#include "server/infer_codec.h"
#include "server/schemas.h"

namespace ipfs_accel::server {

namespace {

using nlohmann::json;

constexpr const char* kEnvelopeType = "application/octet-stream";
constexpr int kRetryAfterS = 1;               // queues drain in milliseconds; a second is plenty
constexpr double kMaxTimeoutMs = 86'400'000;  // keeps the deadline inside the clock's range
const std::set<std::string> kFields = {"inputs", "text", "platform", "precision", "timeout_ms"};

bool IsEnvelope(const Request& r) {
  const auto it = r.headers.find("content-type");
  return it != r.headers.end() && it->second.substr(0, it->second.find(';')) == kEnvelopeType;
}

struct InferCall {
  serving::InferRequest request;
  json tokens;  // how many tokens the text became (per text, for a list); null without text
};

std::string StringField(const json& fields, const char* name, const std::string& fallback) {
  if (!fields.contains(name)) return fallback;
  if (!fields[name].is_string())
    throw HttpError(400, fmt::format("field '{}' must be a string", name));
  return fields[name].get<std::string>();
}

constexpr size_t kMaxTexts = 256;  // texts in one request

// input_ids [n, longest] of `encodings`, each padded as `pad` says, and its attention_mask.
void AddPaddedIds(const std::vector<serving::Encoding>& encodings, const serving::Padding& pad,
                  serving::InferRequest* request) {
  size_t longest = 0;
  for (const auto& e : encodings) longest = std::max(longest, e.ids.size());
  const core::Shape shape = {static_cast<int64_t>(encodings.size()), static_cast<int64_t>(longest)};
  core::Tensor ids = core::Tensor::Zeros(core::DType::kInt64, shape);
  core::Tensor mask = core::Tensor::Zeros(core::DType::kInt64, shape);
  auto id = ids.values<int64_t>();
  auto on = mask.values<int64_t>();
  for (size_t row = 0; row < encodings.size(); ++row) {
    const auto& e = encodings[row].ids;
    const size_t first = pad.left ? longest - e.size() : 0;  // where the text starts
    for (size_t i = 0; i < longest; ++i) id[row * longest + i] = pad.id;
    for (size_t i = 0; i < e.size(); ++i) {
      id[row * longest + first + i] = e[i];
      on[row * longest + first + i] = 1;
    }
  }
  request->inputs["input_ids"] = std::move(ids);
  request->inputs["attention_mask"] = std::move(mask);
}

// "text": a string, encoded (with special tokens) into input_ids of one row; or a list of
// strings, one row each, padded to the longest with an attention_mask (as the tokenizers
// library pads a batch). Answers the token count (a list of them for a list).
json AddText(ServedModels& models, const std::string& model, const json& text,
             serving::InferRequest* request) {
  const auto tokenizer = models.TokenizerOf(model);
  if (!tokenizer)
    throw HttpError(400, fmt::format("model '{}' has no tokenizer.json beside its files; send "
                                     "token ids as inputs.input_ids instead of text",
                                     model));
  const bool list = text.is_array();
  if (!text.is_string() && !(list && !text.empty() && text.size() <= kMaxTexts))
    throw HttpError(
        400, fmt::format("field 'text' must be a string or a list of 1 to {} strings", kMaxTexts));
  if (request->inputs.count("input_ids") || (list && request->inputs.count("attention_mask")))
    throw HttpError(400, "give input_ids either as text or in inputs, not both");
  std::vector<serving::Encoding> encodings;
  json counts = json::array();
  for (const json& t : list ? text : json::array({text})) {
    if (!t.is_string()) throw HttpError(400, "field 'text' holds something other than a string");
    encodings.push_back(tokenizer->Encode(t.get<std::string>()));
    counts.push_back(encodings.back().ids.size());
  }
  const auto pad = tokenizer->BatchPadding();
  if (list && !pad)
    throw HttpError(400, fmt::format("model '{}''s tokenizer.json names no padding token, so "
                                     "texts cannot share a batch; send one text per request",
                                     model));
  if (list) {
    AddPaddedIds(encodings, *pad, request);
    return counts;
  }
  AddPaddedIds(encodings, serving::Padding{}, request);
  request->inputs.erase("attention_mask");  // one row has no padding: the model's default
  return counts[0];
}

// "text": one string, or a list of them.
json TextSchema() {
  json list = {{"type", "array"}, {"items", {{"type", "string"}}}, {"minItems", 1}};
  list["maxItems"] = kMaxTexts;
  return {{"oneOf", json::array({{{"type", "string"}}, list})}};
}

InferCall ParseCall(ServedModels& models, const std::string& model, const Request& r) {
  InferCall call;
  call.request.model = model;
  json fields;
  if (IsEnvelope(r)) {
    runtime::Envelope e =
        runtime::DecodeEnvelope(r.body, "the request body", core::ErrorKind::kInvalidArgument);
    fields = json::parse(e.header_json);
    fields.erase("tensors");
    call.request.inputs = std::move(e.tensors);
  } else {
    fields = json::parse(r.body);
    if (!fields.is_object()) throw HttpError(400, "the request body must be a JSON object");
    if (fields.contains("inputs") && !fields["inputs"].is_object())
      throw HttpError(400, "field 'inputs' must be an object of input name -> nested array");
    const json inputs = fields.value("inputs", json::object());
    for (const auto& [name, value] : inputs.items())
      call.request.inputs[name] = TensorFromJson(name, value);
  }
  for (const auto& [key, value] : fields.items())
    if (!kFields.count(key))
      throw HttpError(
          400, fmt::format("unknown field '{}'; the body takes {}", key, fmt::join(kFields, ", ")));
  if (fields.contains("text")) call.tokens = AddText(models, model, fields["text"], &call.request);
  if (call.request.inputs.empty())
    throw HttpError(400,
                    "the body has no inputs; send {\"inputs\": {\"input_ids\": [[101, 7592, "
                    "102]]}} or, for a model with a tokenizer, {\"text\": \"...\"}");
  call.request.platform = StringField(fields, "platform", "auto");
  if (call.request.platform == "auto") call.request.platform.clear();
  const auto& known = runtime::KnownPlatforms();
  if (!call.request.platform.empty() &&
      std::find(known.begin(), known.end(), call.request.platform) == known.end())
    throw HttpError(400, fmt::format("platform '{}' is not one of auto, {}", call.request.platform,
                                     fmt::join(known, ", ")));
  call.request.precision = StringField(fields, "precision", "fp32");
  if (fields.contains("timeout_ms")) {
    const json& t = fields["timeout_ms"];
    if (!t.is_number() || t.get<double>() <= 0 || t.get<double>() > kMaxTimeoutMs)
      throw HttpError(400, fmt::format("field 'timeout_ms' must be a number of milliseconds "
                                       "above 0 and at most {:.0f} (a day)",
                                       kMaxTimeoutMs));
    call.request.deadline =
        serving::Clock::now() + std::chrono::duration_cast<serving::Clock::duration>(
                                    std::chrono::duration<double, std::milli>(t.get<double>()));
  }
  return call;
}

Response Refusal(const serving::ServingError& e) {
  if (e.reason() == serving::RefusalReason::kDeadline) return Response::Error(408, e.what());
  Response r = Response::Error(503, e.what());
  r.headers.emplace("Retry-After", std::to_string(kRetryAfterS));
  return r;
}

json ResultJson(const serving::InferResult& result, const json& tokens) {
  json out = {{"model", result.model},
              {"platform", result.platform},
              {"precision", result.precision},
              {"execution_provider", result.execution_provider},
              {"placement", result.placement},
              {"defaulted_inputs", result.defaulted_inputs},
              {"batch", {{"requests", result.batch_requests}, {"rows", result.batch_rows}}},
              {"queue_ms", result.queue_ms},
              {"run_ms", result.run_ms}};
  if (!tokens.is_null()) out["text_tokens"] = tokens;
  return out;
}

Response Infer(ServedModels& models, const Request& r) {
  const serving::ModelSource source = models.registry().Get(r.params.at("model"));
  const InferCall call = ParseCall(models, source.name, r);
  serving::InferResult result;
  try {
    result = models.pool().Infer(call.request);
  } catch (const serving::ServingError& e) {
    return Refusal(e);
  }
  json out = ResultJson(result, call.tokens);
  if (IsEnvelope(r))
    return Response::Text(runtime::EncodeEnvelope(out.dump(), result.outputs), kEnvelopeType);
  std::string text = out.dump();  // an object: its closing brace makes room for the outputs
  text.back() = ',';
  text += "\"outputs\":" + TensorsToJsonText(result.outputs) + "}";
  return Response::Text(std::move(text), "application/json");
}

json SourceJson(const ServedModels& models, const serving::ModelSource& s) {
  const auto tokenizer = models.TokenizerOf(s.name);
  return {{"name", s.name},
          {"spec", s.spec},
          {"seed", s.seed},
          {"tokenizer", tokenizer ? json(tokenizer->Describe()) : json(nullptr)}};
}

Response RegisterModel(ServedModels& models, const Request& r) {
  const json body = json::parse(r.body);
  if (!body.is_object() || !body.contains("spec") || !body["spec"].is_string())
    throw HttpError(400, "the body needs \"spec\": a catalog name, model folder or .onnx file");
  for (const auto& [key, value] : body.items())
    if (key != "spec" && key != "name" && key != "seed" && key != "load")
      throw HttpError(
          400, fmt::format("unknown field '{}'; the body takes spec, name, seed, load", key));
  serving::ModelSource source{.name = StringField(body, "name", ""),
                              .spec = body["spec"].get<std::string>()};
  if (body.contains("seed")) {
    if (!body["seed"].is_number_unsigned())
      throw HttpError(400, "field 'seed' must be a whole number of 0 or more");
    source.seed = body["seed"].get<uint64_t>();
  }
  if (source.name.empty()) source.name = DefaultModelName(source.spec);
  if (const auto known = models.registry().Find(source.name)) {
    if (known->spec != source.spec || known->seed != source.seed)
      throw HttpError(409, fmt::format("model '{}' is registered already as '{}'; give another "
                                       "name",
                                       source.name, known->spec));
    return Response::Json(SourceJson(models, *known), 200);
  }
  const serving::ModelSource added = models.Add(source);
  json out = SourceJson(models, added);
  if (body.value("load", false)) {
    const serving::PoolEntrySnapshot loaded = models.pool().Load(added.name);
    out["loaded"] = {{"platform", loaded.platform},
                     {"placement", loaded.placement},
                     {"estimated_bytes", loaded.estimated_bytes}};
  }
  return Response::Json(out, 201);
}

Response Pool(ServedModels& models) {
  json out = serving::ToJson(models.pool().Snapshot());
  json registered = json::array();
  for (const auto& s : models.registry().List()) registered.push_back(SourceJson(models, s));
  out["models"] = std::move(registered);
  return Response::Json(out);
}

}  // namespace

void AddInferenceRoutes(RouteTable& table, ServedModels& models, const ServerCounters* http) {
  ServedModels* m = &models;
  const json tensors = {{"type", "object"}, {"additionalProperties", true}};
  table.Add(
      {.method = "POST",
       .path = "/api/infer/{model}",
       .summary = "Run a registered model on the inputs given (or on text, with its tokenizer)",
       .description =
           "JSON: {\"inputs\": {\"input_ids\": [[101, 7592, 102]]}} (nested arrays, batch on "
           "axis 0; or {shape, dtype, data}), or {\"text\": \"...\"} (or a list of texts, padded "
           "to one batch with an attention_mask) for a model with a tokenizer.json; platform "
           "(default auto: the best stored result, else cpu), precision "
           "(default fp32), timeout_ms. Outputs come back as name -> {shape, dtype, data}. With "
           "Content-Type application/octet-stream the body is the browser runner's tensor "
           "envelope (4-byte little-endian header length, JSON header with these fields, raw "
           "tensors) and so is the answer. Requests arriving together share runs (dynamic "
           "batching). 503 with Retry-After when the model's queue is full or the server stops; "
           "408 when timeout_ms passes first.",
       .tag = "inference",
       .params = {{.name = "model",
                   .in = ParamIn::kPath,
                   .description = "a registered model (GET /api/pool lists them)"}},
       .request_schema = {{"type", "object"},
                          {"properties",
                           {{"inputs", tensors},
                            {"text", TextSchema()},
                            {"platform", {{"type", "string"}}},
                            {"precision", {{"type", "string"}}},
                            {"timeout_ms",
                             {{"type", "number"},
                              {"minimum", 0},
                              {"exclusiveMinimum", true},
                              {"maximum", kMaxTimeoutMs}}}}},
                          {"additionalProperties", false}},
       .binary_content_types = {kEnvelopeType},
       .response_schema = ObjectSchema({{"model", "string"},
                                        {"platform", "string"},
                                        {"precision", "string"},
                                        {"execution_provider", "string"},
                                        {"placement", "string"},
                                        {"defaulted_inputs", "array"},
                                        {"batch", "object"},
                                        {"queue_ms", "number"},
                                        {"run_ms", "number"},
                                        {"outputs", "object"}}),
       .error_statuses = {408, 413},
       .handler = [m](const Request& r) { return Infer(*m, r); }});
  table.Add(
      {.method = "POST",
       .path = "/api/models",
       .summary = "Register a model to serve (catalog name, model folder or .onnx file)",
       .description = "Body: {\"spec\": ..., \"name\": optional (default: the folder's "
                      "or file's name), \"seed\": random weights of catalog names, "
                      "\"load\": open its session now}. 200 when it is registered "
                      "already with the same spec; 409 when the name is taken by another.",
       .tag = "inference",
       .request_schema = {{"type", "object"},
                          {"required", {"spec"}},
                          {"properties",
                           {{"spec", {{"type", "string"}}},
                            {"name", {{"type", "string"}}},
                            {"seed", {{"type", "integer"}, {"minimum", 0}}},
                            {"load", {{"type", "boolean"}}}}}},
       .response_schema = ObjectSchema(
           {{"name", "string"}, {"spec", "string"}, {"seed", "integer"}, {"tokenizer", "string?"}}),
       .success_status = 201,
       .requires_token = true,
       .error_statuses = {200, 409},
       .handler = [m](const Request& r) { return RegisterModel(*m, r); }});
  table.Add({.method = "GET",
             .path = "/api/pool",
             .summary = "The resource pool: registered models, loaded sessions, memory, traffic",
             .tag = "inference",
             .response_schema = ObjectSchema({{"models", "array"},
                                              {"entries", "array"},
                                              {"devices", "array"},
                                              {"batching", "object"},
                                              {"loads", "integer"},
                                              {"evictions", "integer"}}),
             .handler = [m](const Request&) { return Pool(*m); }});
  table.Add({.method = "GET",
             .path = "/metrics",
             .summary = "The resource pool's and the HTTP server's counters in Prometheus text "
                        "format (0.0.4)",
             .tag = "inference",
             .response_schema = {{"type", "string"}},
             .response_content_type = "text/plain",
             .handler = [m, http](const Request&) {
               std::string text = serving::PrometheusText(m->pool().Snapshot());
               if (http) text += PrometheusText(*http);
               return Response::Text(text, serving::kPrometheusContentType);
             }});
}

}  // namespace ipfs_accel::server
