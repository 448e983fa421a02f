// The route table (route.h): declaring routes, matching a path to one, and the plain values a
// handler reads and answers.

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/server/route.h"
#include "server/path_pattern.h"

namespace ipfs_accel::server {

namespace {

using core::Error;
using core::ErrorKind;

[[noreturn]] void Bug(const Route& route, const std::string& what) {
  throw Error(ErrorKind::kInternal, fmt::format("route {} {}: {}", route.method, route.path, what));
}

}  // namespace

std::optional<std::string> Request::Get(const std::string& name) const {
  const auto it = params.find(name);
  return it == params.end() ? std::nullopt : std::optional(it->second);
}

std::optional<int64_t> Request::OptionalInt(const std::string& name) const {
  const auto text = Get(name);
  return text ? std::optional(std::stoll(*text)) : std::nullopt;  // checked by the router
}

int64_t Request::Int(const std::string& name, int64_t fallback) const {
  return OptionalInt(name).value_or(fallback);
}

std::optional<double> Request::OptionalNumber(const std::string& name) const {
  const auto text = Get(name);
  return text ? std::optional(std::stod(*text)) : std::nullopt;
}

bool Request::Bool(const std::string& name, bool fallback) const {
  const auto text = Get(name);
  return text ? *text == "true" : fallback;
}

Response Response::Json(const nlohmann::ordered_json& body, int status) {
  return Text(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
              "application/json", status);
}

Response Response::Json(const nlohmann::json& body, int status) {
  return Text(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
              "application/json", status);
}

Response Response::Text(std::string body, std::string content_type, int status) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

Response Response::Error(int status, const std::string& message) {
  nlohmann::ordered_json body = {{"error", message}, {"status", status}};
  return Json(body, status);
}

void RouteTable::Add(Route route) {
  if (!route.handler) Bug(route, "has no handler");
  if (route.path.empty() || route.path.front() != '/') Bug(route, "the path must start with /");
  for (const Route& other : routes_)
    if (other.method == route.method && other.path == route.path) Bug(route, "is declared twice");
  std::set<std::string> in_path;
  for (const PathSegment& segment : SplitPattern(route.path))
    if (segment.parameter) in_path.insert(segment.text);
  std::set<std::string> declared;
  for (const ParamSpec& p : route.params) {
    if (!declared.insert(p.name).second) Bug(route, "parameter '" + p.name + "' is declared twice");
    if ((p.in == ParamIn::kPath) != in_path.count(p.name))
      Bug(route, "parameter '" + p.name + "' must be in the path exactly when declared kPath");
  }
  for (const std::string& name : in_path)
    if (!declared.count(name)) Bug(route, "path parameter '" + name + "' is not declared");
  routes_.push_back(std::move(route));
}

RouteTable::Match RouteTable::Find(const std::string& method, const std::string& path) const {
  // A literal segment beats a parameter: /api/x/list wins over /api/x/{name}.
  Match match;
  size_t best_literals = 0;
  for (const Route& route : routes_) {
    std::map<std::string, std::string> params;
    if (!MatchPattern(route.path, path, &params)) continue;
    if (route.method != method) {
      match.allowed_methods.push_back(route.method);
      continue;
    }
    const size_t literals = SplitPattern(route.path).size() - params.size();
    if (match.route == nullptr || literals > best_literals) {
      match.route = &route;
      match.path_params = std::move(params);
      best_literals = literals;
    }
  }
  return match;
}

}  // namespace ipfs_accel::server
