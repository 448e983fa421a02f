#pragma once
// The OpenAPI 3.0.3 document of a route table, and the page at /docs that renders it. Both come
// from the table the router dispatches on, so what they describe is what the server does.

#include <string>

#include <nlohmann/json.hpp>

#include "ipfs_accel/server/route.h"

namespace ipfs_accel::server {

struct ApiInfo {
  std::string title = "ipfs-accelerate";
  std::string version = {};  // the tool's version
  std::string description = {};
};

// Every route as a path item: its parameters (types, bounds, allowed values, defaults), request
// body, success response and error responses (each {"error", "status"}); routes needing the
// token carry the bearerAuth security requirement.
nlohmann::ordered_json OpenApiDocument(const RouteTable& table, const ApiInfo& info);

// A self-contained HTML page (inline script and style, nothing fetched but /openapi.json from
// the same server) listing every endpoint with its parameters and schemas.
std::string DocsPage(const std::string& title);

}  // namespace ipfs_accel::server
