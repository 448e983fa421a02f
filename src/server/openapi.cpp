// OpenApiDocument (openapi.h): the route table as OpenAPI 3.0.3.

#include "ipfs_accel/server/openapi.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

namespace ipfs_accel::server {

namespace {

using ojson = nlohmann::ordered_json;

ojson ParamSchema(const ParamSpec& p) {
  ojson schema;
  switch (p.type) {
    case ParamType::kInteger:
      schema["type"] = "integer";
      schema["format"] = "int64";
      if (p.minimum) schema["minimum"] = *p.minimum;
      if (p.maximum) schema["maximum"] = *p.maximum;
      if (p.default_value) schema["default"] = std::stoll(*p.default_value);
      break;
    case ParamType::kNumber:
      schema["type"] = "number";
      if (p.default_value) schema["default"] = std::stod(*p.default_value);
      break;
    case ParamType::kBoolean:
      schema["type"] = "boolean";
      if (p.default_value) schema["default"] = *p.default_value == "true";
      break;
    case ParamType::kDate:
      schema["type"] = "string";
      schema["pattern"] = R"(^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?)?$)";
      break;
    case ParamType::kString:
      schema["type"] = "string";
      if (p.default_value) schema["default"] = *p.default_value;
      break;
  }
  if (!p.allowed.empty()) schema["enum"] = p.allowed;
  return schema;
}

ojson Parameter(const ParamSpec& p) {
  ojson out;
  out["name"] = p.name;
  out["in"] = p.in == ParamIn::kPath ? "path" : "query";
  out["required"] = p.in == ParamIn::kPath || p.required;
  if (!p.description.empty()) out["description"] = p.description;
  out["schema"] = ParamSchema(p);
  return out;
}

const char* ReasonPhrase(int status) {
  static const std::map<int, const char*> kPhrases = {
      {200, "OK"},
      {201, "Created"},
      {400, "Bad request: a parameter or the body is malformed"},
      {401, "The bearer token is missing or wrong"},
      {403, "The server takes no writes (started without --token-file)"},
      {404, "Not found"},
      {405, "Method not allowed"},
      {408, "The query or request ran past its time limit"},
      {409, "Conflict with what the server holds"},
      {413, "The body is larger than the server's --max-body-mb"},
      {500, "Internal error"},
      {503,
       "The server is shutting down, is busy (more connections wait for a worker than serve "
       "--max-waiting allows: Retry-After), or a resource is unavailable"}};
  const auto it = kPhrases.find(status);
  return it == kPhrases.end() ? "Response" : it->second;
}

ojson Content(const std::string& type, const nlohmann::json& schema) {
  ojson media = ojson::object();
  if (!schema.is_null()) media["schema"] = ojson::parse(schema.dump());
  return {{type, media}};
}

ojson Operation(const Route& route) {
  ojson op;
  op["summary"] = route.summary;
  if (!route.description.empty()) op["description"] = route.description;
  if (!route.tag.empty()) op["tags"] = {route.tag};
  op["operationId"] = route.method + route.path;
  if (!route.params.empty()) {
    op["parameters"] = ojson::array();
    for (const ParamSpec& p : route.params) op["parameters"].push_back(Parameter(p));
  }
  const nlohmann::json binary = {{"type", "string"}, {"format", "binary"}};
  if (!route.request_schema.is_null()) {
    ojson content = Content(route.request_content_type, route.request_schema);
    for (const std::string& type : route.binary_content_types)
      content.update(Content(type, binary));
    op["requestBody"] = {{"required", true}, {"content", content}};
  }
  ojson responses;
  ojson success = Content(route.response_content_type, route.response_schema);
  for (const std::string& type : route.binary_content_types) success.update(Content(type, binary));
  responses[std::to_string(route.success_status)] = {
      {"description", ReasonPhrase(route.success_status)}, {"content", success}};
  std::vector<int> errors = {400, 404, 500, 503};
  errors.insert(errors.end(), route.error_statuses.begin(), route.error_statuses.end());
  if (route.requires_token) errors.insert(errors.end(), {401, 403});
  std::sort(errors.begin(), errors.end());
  errors.erase(std::unique(errors.begin(), errors.end()), errors.end());
  for (int status : errors) {
    if (status < 400) {  // another success (e.g. 200 beside 201): the same body
      responses[std::to_string(status)] = {
          {"description", ReasonPhrase(status)},
          {"content", Content(route.response_content_type, route.response_schema)}};
      continue;
    }
    responses[std::to_string(status)] = {
        {"description", ReasonPhrase(status)},
        {"content",
         {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
  }
  op["responses"] = responses;
  if (route.requires_token) op["security"] = {{{"bearerAuth", ojson::array()}}};
  return op;
}

std::string LowerOpenApiText(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

nlohmann::ordered_json OpenApiDocument(const RouteTable& table, const ApiInfo& info) {
  ojson doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {{"title", info.title}, {"version", info.version}};
  if (!info.description.empty()) doc["info"]["description"] = info.description;
  ojson paths = ojson::object();
  for (const Route& route : table.routes())
    paths[route.path][LowerOpenApiText(route.method)] = Operation(route);
  doc["paths"] = paths;
  doc["components"]["schemas"]["Error"] = {
      {"type", "object"},
      {"required", {"error", "status"}},
      {"properties",
       {{"error", {{"type", "string"}, {"description", "one line: what was wrong, what to do"}}},
        {"status", {{"type", "integer"}}}}}};
  doc["components"]["securitySchemes"]["bearerAuth"] = {
      {"type", "http"}, {"scheme", "bearer"}, {"description", "the token of serve --token-file"}};
  return doc;
}

}  // namespace ipfs_accel::server
