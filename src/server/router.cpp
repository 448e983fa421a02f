// Dispatch (router.h): route, parameters, token, handler, and the mapping of what it throws.

#include "ipfs_accel/server/router.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <regex>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/server/auth.h"
#include "ipfs_accel/store/query.h"
#include "server/path_pattern.h"

namespace ipfs_accel::server {

namespace {

using core::ErrorKind;

const char* TypeName(ParamType type) {
  switch (type) {
    case ParamType::kInteger:
      return "a whole number";
    case ParamType::kNumber:
      return "a number";
    case ParamType::kBoolean:
      return "true or false";
    case ParamType::kDate:
      return "a date (2026-12-01) or UTC time (2026-12-01T10:00:00Z)";
    case ParamType::kString:
      break;
  }
  return "text";
}

bool IsInteger(const std::string& text, int64_t* value) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, *value);
  return ec == std::errc() && ptr == end && !text.empty();
}

// One line saying what is wrong with `value` for `spec`; empty when it fits.
std::string Problem(const ParamSpec& spec, const std::string& value) {
  const std::string bad =
      fmt::format("parameter '{}' is '{}', not {}", spec.name, value, TypeName(spec.type));
  switch (spec.type) {
    case ParamType::kInteger: {
      int64_t n = 0;
      if (!IsInteger(value, &n)) return bad;
      if ((spec.minimum && n < *spec.minimum) || (spec.maximum && n > *spec.maximum))
        return fmt::format("parameter '{}' is {}, outside {}..{}", spec.name, n,
                           spec.minimum ? std::to_string(*spec.minimum) : "",
                           spec.maximum ? std::to_string(*spec.maximum) : "");
      break;
    }
    case ParamType::kNumber: {
      char* end = nullptr;
      const double x = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(x)) return bad;
      break;
    }
    case ParamType::kBoolean:
      if (value != "true" && value != "false") return bad;
      break;
    case ParamType::kDate: {
      static const std::regex kDate(R"(\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?)?)");
      if (!std::regex_match(value, kDate)) return bad;
      break;
    }
    case ParamType::kString:
      break;
  }
  if (!spec.allowed.empty() &&
      std::find(spec.allowed.begin(), spec.allowed.end(), value) == spec.allowed.end())
    return fmt::format("parameter '{}' is '{}', not one of {}", spec.name, value,
                       fmt::join(spec.allowed, ", "));
  return "";
}

// The route's parameters from the path and the query, checked; throws HttpError(400).
std::map<std::string, std::string> CheckedParams(const Route& route, RawRequest& raw,
                                                 std::map<std::string, std::string> path_params) {
  std::map<std::string, std::string> params = std::move(path_params);
  for (auto& [name, value] : raw.query) {
    const auto spec = std::find_if(route.params.begin(), route.params.end(), [&](const auto& p) {
      return p.name == name && p.in == ParamIn::kQuery;
    });
    if (spec == route.params.end()) {
      std::vector<std::string> names;
      for (const ParamSpec& p : route.params)
        if (p.in == ParamIn::kQuery) names.push_back(p.name);
      throw HttpError(400, names.empty() ? fmt::format("unknown parameter '{}'; {} takes none",
                                                       name, route.path)
                                         : fmt::format("unknown parameter '{}'; {} takes: {}", name,
                                                       route.path, fmt::join(names, ", ")));
    }
    if (!params.emplace(name, std::move(value)).second)
      throw HttpError(400, fmt::format("parameter '{}' is given twice; give it once", name));
  }
  for (const ParamSpec& spec : route.params) {
    const auto it = params.find(spec.name);
    if (it == params.end()) {
      if (spec.required)
        throw HttpError(
            400, fmt::format("parameter '{}' is required ({})", spec.name, spec.description));
      continue;
    }
    if (const std::string problem = Problem(spec, it->second); !problem.empty())
      throw HttpError(400, problem);
  }
  return params;
}

void CheckToken(const RawRequest& raw, const RouterOptions& options) {
  if (!options.token)
    throw HttpError(403,
                    "this server takes no writes; start `ipfs-accelerate serve` with "
                    "--token-file FILE to accept them");
  const auto header = raw.headers.find("authorization");
  if (header == raw.headers.end())
    throw HttpError(401,
                    "this endpoint needs the server's token: send 'Authorization: Bearer "
                    "<token>'");
  const auto token = BearerToken(header->second);
  if (!token || !TokenMatches(*token, *options.token))
    throw HttpError(401,
                    "the bearer token does not match the server's; send the token of its "
                    "--token-file");
}

int StatusOf(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
    case ErrorKind::kCorrupt:
    case ErrorKind::kUnsupported:
      return 400;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// Whether the request's Content-Type is one of the route's binary media types.
bool IsBinary(const Route& route, const Request& request) {
  const auto header = request.headers.find("content-type");
  if (header == request.headers.end()) return false;
  const std::string type = header->second.substr(0, header->second.find(';'));
  return std::find(route.binary_content_types.begin(), route.binary_content_types.end(), type) !=
         route.binary_content_types.end();
}

Response Run(const Route& route, RawRequest& raw, std::map<std::string, std::string> path_params,
             const RouterOptions& options) {
  if (route.requires_token) CheckToken(raw, options);
  Request request{raw.method,
                  raw.path,
                  CheckedParams(route, raw, std::move(path_params)),
                  std::move(raw.headers),
                  std::move(raw.body),
                  std::move(raw.remote_addr)};
  if (!route.request_schema.is_null() && route.request_content_type == "application/json" &&
      !IsBinary(route, request) && !nlohmann::json::accept(request.body))
    throw HttpError(400, "the request body is not valid JSON; send a JSON document");
  return route.handler(request);
}

}  // namespace

Response Dispatch(const RouteTable& table, RawRequest raw, const RouterOptions& options) {
  std::string path;
  if (!PercentDecode(raw.path, &path)) path = raw.path;
  RouteTable::Match match = table.Find(raw.method, raw.path);
  if (match.route == nullptr) {
    if (!match.allowed_methods.empty()) {
      Response r =
          Response::Error(405, fmt::format("{} does not take {}; it takes {}", path, raw.method,
                                           fmt::join(match.allowed_methods, ", ")));
      r.headers["Allow"] = fmt::format("{}", fmt::join(match.allowed_methods, ", "));
      return r;
    }
    return Response::Error(404, fmt::format("no endpoint at {}; /openapi.json lists them", path));
  }
  try {
    return Run(*match.route, raw, std::move(match.path_params), options);
  } catch (const HttpError& e) {
    Response r = Response::Error(e.status(), e.what());
    if (e.status() == 401) r.headers["WWW-Authenticate"] = "Bearer";
    return r;
  } catch (const store::QueryTimedOut& e) {
    return Response::Error(408, e.what());
  } catch (const core::Error& e) {
    return Response::Error(StatusOf(e.kind()), e.what());
  } catch (const std::exception& e) {
    return Response::Error(500, fmt::format("internal error: {}", e.what()));
  }
}

}  // namespace ipfs_accel::server
