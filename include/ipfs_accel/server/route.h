#pragma once
// The route table: every endpoint of the server declared once, as data (method, path pattern,
// summary, typed parameters, request and response schemas, handler). The router and the
// OpenAPI document are both made from it, so they cannot disagree. Another part of the program
// (the dashboard, the inference endpoint) adds its endpoints by calling RouteTable::Add before
// the server starts.
//
// Thread safety: a RouteTable is filled on one thread, then only read; handlers run on the
// server's worker threads, concurrently.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ipfs_accel::server {

enum class ParamIn { kQuery, kPath };
// kDate: an ISO-8601 date or UTC timestamp ("2026-12-01", "2026-12-01T10:00:00Z").
enum class ParamType { kString, kInteger, kNumber, kBoolean, kDate };

struct ParamSpec {
  std::string name = {};
  ParamIn in = ParamIn::kQuery;
  ParamType type = ParamType::kString;
  std::string description = {};
  bool required = false;                              // path parameters are always required
  std::vector<std::string> allowed = {};              // when set, the only values accepted
  std::optional<int64_t> minimum = {}, maximum = {};  // kInteger bounds
  std::optional<std::string> default_value = {};      // documented; the handler applies it
};

// A request as a handler sees it: its parameters already checked against the route's specs
// (types, bounds, allowed values, required ones present); parameters not declared are refused
// before the handler runs.
struct Request {
  std::string method, path;
  std::map<std::string, std::string> params;   // path and query parameters by name
  std::map<std::string, std::string> headers;  // names lower case
  std::string body;
  std::string remote_addr;

  std::optional<std::string> Get(const std::string& name) const;
  // A declared kInteger / kNumber / kBoolean parameter, or `fallback` when it is absent.
  int64_t Int(const std::string& name, int64_t fallback) const;
  std::optional<int64_t> OptionalInt(const std::string& name) const;
  std::optional<double> OptionalNumber(const std::string& name) const;
  bool Bool(const std::string& name, bool fallback) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers = {};

  static Response Json(const nlohmann::ordered_json& body, int status = 200);
  static Response Json(const nlohmann::json& body, int status = 200);
  static Response Text(std::string body, std::string content_type, int status = 200);
  // {"error": message, "status": status}
  static Response Error(int status, const std::string& message);
};

// Thrown by a handler (or the router) for an answer other than success: the status and one
// line saying what was wrong and what to do. core::Error thrown by a handler is mapped too:
// kInvalidArgument, kCorrupt and kUnsupported 400, kNotFound 404, others 500.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

using Handler = std::function<Response(const Request&)>;

struct Route {
  std::string method = {};  // "GET", "POST", "PUT", "DELETE"
  // "/api/reports/{kind}": a {name} segment is a path parameter declared in `params`.
  std::string path = {};
  std::string summary = {};      // one line
  std::string description = {};  // optional, longer
  std::string tag = {};          // groups routes in the docs ("results", "analysis", "sql", ...)
  std::vector<ParamSpec> params = {};
  // OpenAPI 3.0 Schema Objects (JSON); null when there is none. `request_schema` set means the
  // route takes a body of `request_content_type`.
  nlohmann::json request_schema = nullptr;
  std::string request_content_type = "application/json";
  // Other media types the body may come in, as bytes (e.g. "application/octet-stream"): a
  // request whose Content-Type is one of them is not checked as JSON, and the handler answers
  // in the same type. Documented as binary strings beside the JSON schemas.
  std::vector<std::string> binary_content_types = {};
  nlohmann::json response_schema = nullptr;
  std::string response_content_type = "application/json";
  int success_status = 200;
  bool requires_token = false;  // a bearer token (serve --token-file) is needed
  // Error statuses the route answers beyond those every route may (400 for a bad parameter,
  // 404, 500, 503): e.g. 401, 408, 413. Documented in the OpenAPI document.
  std::vector<int> error_statuses = {};
  Handler handler = {};
};

class RouteTable {
 public:
  // Throws core::Error(kInternal) for a route whose method and path another route has, a path
  // parameter not declared (or declared and not in the path), or no handler.
  void Add(Route route);
  const std::vector<Route>& routes() const { return routes_; }

  struct Match {
    const Route* route = nullptr;                    // null: no route has this path
    std::map<std::string, std::string> path_params;  // percent-decoded
    std::vector<std::string> allowed_methods;        // when the path matches other methods
  };
  // The route for `method` and `path` (without the query string).
  Match Find(const std::string& method, const std::string& path) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace ipfs_accel::server
