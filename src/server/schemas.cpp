#include "server/schemas.h"

namespace ipfs_accel::server {

nlohmann::json ObjectSchema(std::initializer_list<std::pair<const char*, const char*>> fields) {
  nlohmann::json properties = nlohmann::json::object();
  for (const auto& [name, type] : fields) {
    std::string t = type;
    const bool nullable = !t.empty() && t.back() == '?';
    if (nullable) t.pop_back();
    nlohmann::json p = {{"type", t}};
    if (t == "array") p["items"] = nlohmann::json::object();
    if (nullable) p["nullable"] = true;
    properties[name] = p;
  }
  return {{"type", "object"}, {"properties", properties}};
}

nlohmann::json TableSchema() {
  return {
      {"type", "object"},
      {"properties",
       {{"columns",
         {{"type", "array"}, {"items", ObjectSchema({{"name", "string"}, {"type", "string"}})}}},
        {"rows", {{"type", "array"}, {"items", AnyObjectSchema()}}}}}};
}

nlohmann::json AnyObjectSchema() { return {{"type", "object"}, {"additionalProperties", true}}; }

}  // namespace ipfs_accel::server
