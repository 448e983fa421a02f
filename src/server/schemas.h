#pragma once
// OpenAPI schema fragments the routes share.

#include <initializer_list>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace ipfs_accel::server {

// {"type": "object", "properties": {...}} with each (name, type) property; a type ending in '?'
// is nullable ("number?").
nlohmann::json ObjectSchema(std::initializer_list<std::pair<const char*, const char*>> fields);

// A table as JSON: {"columns": [{"name", "type"}], "rows": [row objects]}.
nlohmann::json TableSchema();

// An object with any properties (a row whose columns vary).
nlohmann::json AnyObjectSchema();

}  // namespace ipfs_accel::server
